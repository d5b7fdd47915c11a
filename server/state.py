"""The server object and its settings, shared by every feature module."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pygls.lsp.server import LanguageServer

from draft import __version__
from server.draft_files import path_of


@dataclass
class Settings:
    """`initializationOptions` / `workspace/didChangeConfiguration` under the key "draft"."""

    deploy_on_save: bool = True
    environment: str | None = None
    daemon_url: str | None = None

    def update(self, raw: Any) -> None:
        draft = raw.get("draft", raw) if isinstance(raw, dict) else None
        if not isinstance(draft, dict):
            return
        if isinstance(draft.get("deployOnSave"), bool):
            self.deploy_on_save = draft["deployOnSave"]
        if isinstance(draft.get("environment"), str):
            self.environment = draft["environment"] or None
        if isinstance(draft.get("daemonUrl"), str):
            self.daemon_url = draft["daemonUrl"] or None


class DraftServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("draft-ls", __version__)
        self.settings = Settings()
        self.checks: dict[str, asyncio.Future[None]] = {}
        self.checks_running: dict[str, Any] = {}
        """The check holding each document's thread (`server.checks.Running`)."""
        self.check_tickets: dict[str, int] = {}
        self.deploys: dict[Path, asyncio.Future[Any]] = {}
        self.last_failure: dict[Path, str] = {}
        self.created: dict[Path, Path] = {}
        """Files of the create edit not yet seen saved → the app folder they belong to."""
        self.pulls_diagnostics = False
        self.shows_progress = False
        self.applies_file_edits = False
        self.resolves_edits = False
        self.neovim = False
        """The editor is Neovim: messages name `:DraftUp` and `:wa` instead of the palette's."""

    def folder_of(self, uri: str) -> Path | None:
        """The workspace folder holding `uri` (the deepest, when folders nest)."""
        path = path_of(uri)
        if path is None:
            return None
        folders = [p for f in self.workspace.folders.values() if (p := path_of(f.uri))]
        if self.workspace.root_path:
            folders.append(Path(self.workspace.root_path))
        inside = [f for f in folders if path == f or f in path.parents]
        return max(inside, key=lambda f: len(f.parts), default=None)

    @property
    def up_command(self) -> str:
        return ":DraftUp" if self.neovim else "Draft: Up"

    @property
    def save_all(self) -> str:
        return ":wa" if self.neovim else "File: Save All"

    def unsaved_created(self, root: Path) -> list[Path]:
        """Files the create edit made in `root` that are still empty on disk: the editor holds
        their text unsaved. Those seen written (or gone: the create was undone) are forgotten."""
        unsaved = []
        for file, folder in list(self.created.items()):
            if folder != root:
                continue
            if file.is_file() and file.stat().st_size == 0:
                unsaved.append(file)
            else:
                del self.created[file]
        return unsaved

    def default_folder(self) -> Path | None:
        folders = [p for f in self.workspace.folders.values() if (p := path_of(f.uri))]
        if folders:
            return folders[0]
        return Path(self.workspace.root_path) if self.workspace.root_path else None
