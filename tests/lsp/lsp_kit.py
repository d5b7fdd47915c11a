"""What the LSP tests play an editor with: the client's capabilities, and applying Draft's
create edit as an editor would. A module of its own, so tests import it (never conftest)."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

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
