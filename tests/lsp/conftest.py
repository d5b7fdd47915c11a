"""draft-ls end to end: the real server process over stdio, driven by pytest-lsp's client
playing an editor that can apply file-creating edits and shows progress."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_kit import CAPABILITIES, apply_edit, bound_requests
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

REPO = Path(__file__).resolve().parents[2]
DRAFTD_STATE = Path(tempfile.gettempdir()) / f"draft-ls-tests-{os.getpid()}" / "state"
"""The state folder of the draftd a test starts: the server reads draftd's token there."""
TEAM_PACKS = Path(tempfile.gettempdir()) / f"draft-ls-tests-{os.getpid()}-packs"
"""The server's `DRAFT_PACKS_PATH`: a team's packs, which a test may write (`team_packs`)."""


@pytest.fixture
def team_packs() -> Iterator[Path]:
    """An empty folder of team packs the language server looks in."""
    shutil.rmtree(TEAM_PACKS, ignore_errors=True)
    TEAM_PACKS.mkdir(parents=True)
    yield TEAM_PACKS
    shutil.rmtree(TEAM_PACKS, ignore_errors=True)


@pytest.fixture
def draftd_state() -> Iterator[Path]:
    """An empty state folder for a draftd the language server will find (see DRAFTD_STATE)."""
    shutil.rmtree(DRAFTD_STATE.parent, ignore_errors=True)
    DRAFTD_STATE.parent.mkdir(parents=True)
    yield DRAFTD_STATE
    shutil.rmtree(DRAFTD_STATE.parent, ignore_errors=True)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "server"],
        server_env={
            **os.environ,
            "DRAFT_NO_AUTOSTART": "1",
            "DRAFTD_STATE": str(DRAFTD_STATE),
            "DRAFT_PACKS_PATH": str(TEAM_PACKS),
        },
    )
)
async def client(
    lsp_client: LanguageClient, workspace: Path, request: pytest.FixtureRequest
) -> AsyncIterator[LanguageClient]:
    options: dict[str, Any] = getattr(request, "param", None) or {}
    bound_requests(lsp_client)
    lsp_client.statuses = []  # type: ignore[attr-defined]
    lsp_client.edits = []  # type: ignore[attr-defined]

    @lsp_client.feature("draft/status")
    def status(params: Any) -> None:
        lsp_client.statuses.append(params)  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        lsp_client.edits.append(params.edit)  # type: ignore[attr-defined]
        apply_edit(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=CAPABILITIES,
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="workspace")],
            initialization_options={"draft": {"deployOnSave": True, **options}},
        )
    )
    yield lsp_client
    await lsp_client.shutdown_session()
