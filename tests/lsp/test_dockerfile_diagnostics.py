"""draft-ls shows, as you type, where the app's Dockerfile will be refused by the cluster its
chart deploys to (the same checks as `draft check`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from waiting import until_async

from draft import packs, scaffold

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.asyncio


async def test_a_named_user_and_a_wrong_expose_show_on_their_lines(
    client: LanguageClient, workspace: Path
) -> None:
    shutil.copytree(REPO / "examples" / "node", workspace, dirs_exist_ok=True)
    scaffold.create(workspace, packs.find_pack("node"), "lsp-node")
    dockerfile = workspace / "Dockerfile"
    text = (
        dockerfile.read_text()
        .replace("USER 1000:1000", "USER 1001")
        .replace("EXPOSE 3000", "EXPOSE 8080")
    )
    uri = dockerfile.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="dockerfile", version=1, text=text
            )
        )
    )
    await until_async(lambda: uri in client.diagnostics, 30, "no diagnostics for the Dockerfile")
    found = client.diagnostics.pop(uri)
    lines = text.splitlines()
    assert sorted((d.code, d.range.start.line) for d in found) == [
        ("dockerfile-port-mismatch", lines.index("EXPOSE 8080")),
        ("dockerfile-user-mismatch", lines.index("USER 1001")),
    ]
    assert all(d.severity == types.DiagnosticSeverity.Warning for d in found)
