"""What the LSP tests play an editor with: the client's capabilities, applying Draft's create
edit as an editor would, and a bound on every request. A module of its own, so tests import it
(never conftest)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

REQUEST_TIMEOUT = 60
"""Seconds the server has to answer a request before the test fails instead of hanging."""

CAPABILITIES = types.ClientCapabilities(
    workspace=types.WorkspaceClientCapabilities(
        apply_edit=True,
        workspace_edit=types.WorkspaceEditClientCapabilities(
            document_changes=True, resource_operations=[types.ResourceOperationKind.Create]
        ),
        workspace_folders=True,
    ),
    window=types.WindowClientCapabilities(work_done_progress=True),
    text_document=types.TextDocumentClientCapabilities(
        code_action=types.CodeActionClientCapabilities(
            resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"])
        ),
        hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
        completion=types.CompletionClientCapabilities(
            completion_item=types.ClientCompletionItemOptions(
                documentation_format=[types.MarkupKind.Markdown]
            )
        ),
    ),
)


def apply_edit(edit: types.WorkspaceEdit) -> None:
    """What an editor does with Draft's create edit: make the files, insert their text."""
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            path = Path(change.uri.removeprefix("file://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            assert not path.exists(), f"Draft must not overwrite {path}"
            path.write_text("")
        elif isinstance(change, types.TextDocumentEdit):
            path = Path(change.text_document.uri.removeprefix("file://"))
            (text_edit,) = change.edits
            assert isinstance(text_edit, types.TextEdit)
            path.write_text(path.read_text() + text_edit.new_text)


def bound_requests(client: LanguageClient, timeout: float = REQUEST_TIMEOUT) -> None:
    """Make every request the client sends fail after `timeout` seconds without an answer."""
    send = client.protocol.send_request_async

    def bounded(method: str, params: Any | None = None, msg_id: Any | None = None) -> Any:
        return asyncio.wait_for(send(method, params, msg_id), timeout)

    client.protocol.send_request_async = bounded  # type: ignore[method-assign]
