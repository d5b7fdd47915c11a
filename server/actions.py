"""Code actions: scaffolding a workspace folder without draft.toml, and certain quick fixes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsprotocol import types

from draft import config, detect, names, packs, scaffold
from draft.errors import DraftError
from server.convert import fix_of, lsp_range
from server.draft_files import path_of
from server.state import DraftServer

CREATE = "draft.create"


def register(server: DraftServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.Source],
            resolve_provider=True,
        ),
    )
    async def code_actions(
        ls: DraftServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        actions = [
            quick_fix(params.text_document.uri, diagnostic)
            for diagnostic in params.context.diagnostics
            if fix_of(diagnostic) is not None
        ]
        folder = ls.folder_of(params.text_document.uri)
        if folder is not None and not (folder / config.CONFIG_FILE).exists():
            actions += await asyncio.to_thread(create_actions, folder, ls.resolves_edits)
        return actions or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: DraftServer, action: types.CodeAction) -> types.CodeAction:
        """The create action's edit, computed when the editor asks (to preview or apply it)."""
        data = action.data if isinstance(action.data, dict) else {}
        folder = path_of(str(data.get("folder", "")))
        if folder is None or "pack" not in data:
            return action
        pack = packs.find_pack(str(data["pack"]))
        planned = await asyncio.to_thread(scaffold.plan, pack, names.generate())
        action.edit, _ = workspace_edit(folder, planned)
        return action

    @server.command(CREATE)
    async def create(ls: DraftServer, *args: Any) -> dict[str, Any]:
        """`draft.create [folderUri] [pack]`: scaffold as an edit the editor applies."""
        folder = path_of(str(args[0])) if args and args[0] else ls.default_folder()
        if folder is None:
            raise DraftError("Open a folder first: Draft scaffolds a workspace folder.")
        pack_name = str(args[1]) if len(args) > 1 and args[1] else None
        pack = packs.find_pack(pack_name) if pack_name else detect.best(folder).pack
        planned = await asyncio.to_thread(scaffold.plan, pack, names.generate())
        edit, skipped = workspace_edit(folder, planned)
        if ls.applies_file_edits:
            result = await ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=f"Draft: create ({pack.title})")
            )
            if not result.applied:
                raise DraftError(f"The editor did not apply Draft's files: {result.failure_reason}")
        else:
            written = await asyncio.to_thread(
                scaffold.write, folder, pack, "", [p for p in planned if p.path not in skipped]
            )
            ls.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Info,
                    message="Draft wrote the files itself: this editor cannot create files "
                    f"through an edit ({len(written.written)} written).",
                )
            )
        created = [str(p.path) for p in planned if p.path not in skipped]
        return {"pack": pack.name, "files": created, "skipped": [str(p) for p in skipped]}


def quick_fix(uri: str, diagnostic: types.Diagnostic) -> types.CodeAction:
    fix = fix_of(diagnostic)
    assert fix is not None
    return types.CodeAction(
        title=fix.title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=True,
        edit=types.WorkspaceEdit(
            changes={uri: [types.TextEdit(range=lsp_range(fix.range), new_text=fix.new_text)]}
        ),
    )


def create_actions(folder: Path, resolvable: bool) -> list[types.CodeAction]:
    """One "create" action per detected pack, best first: resolved to its edit on demand when
    the editor can, else running the `draft.create` command (which sends the same edit)."""
    title = "Draft: create Dockerfile, chart and draft.toml ({} detected)"
    actions = []
    for found in detect.detect(folder):
        arguments = [folder.as_uri(), found.pack.name]
        action = types.CodeAction(
            title=title.format(detect.label(found)), kind=types.CodeActionKind.Source
        )
        if resolvable:
            action.data = {"folder": arguments[0], "pack": arguments[1]}
        else:
            action.command = types.Command(
                title="Draft: create", command=CREATE, arguments=arguments
            )
        actions.append(action)
    return actions


def workspace_edit(
    folder: Path, planned: list[scaffold.PlannedFile]
) -> tuple[types.WorkspaceEdit, list[Path]]:
    """File creations with their text; files that exist are left alone, as `draft create` does."""
    changes: list[Any] = []
    skipped: list[Path] = []
    for file in planned:
        target = folder / file.path
        if target.exists():
            skipped.append(file.path)
            continue
        uri = target.as_uri()
        changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False)))
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                edits=[
                    types.TextEdit(
                        range=types.Range(
                            start=types.Position(line=0, character=0),
                            end=types.Position(line=0, character=0),
                        ),
                        new_text=file.content.decode("utf-8"),
                    )
                ],
            )
        )
    return types.WorkspaceEdit(document_changes=changes), skipped
