"""draft-ls as an editor sees it: scaffolding offered and applied as an edit, mistakes shown
where they are with fixes, completion and hover docs, and deploy-on-save reported as progress
and `draft/status` — the real server over stdio."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from lsp_kit import apply_edit
from lsprotocol import types
from pytest_lsp import LanguageClient
from waiting import until_async

from draft import packs, scaffold

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.asyncio


def open_doc(client: LanguageClient, path: Path, language: str, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id=language,
                version=1,
                text=text if text is not None else path.read_text(),
            )
        )
    )
    return uri


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def diagnostics_for(
    client: LanguageClient, uri: str, timeout: float = 30
) -> list[types.Diagnostic]:
    await until_async(lambda: uri in client.diagnostics, timeout, f"no diagnostics for {uri}")
    return list(client.diagnostics.pop(uri))


def scaffolded(workspace: Path, name: str = "lsp-app") -> Path:
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    scaffold.create(workspace, packs.find_pack("python"), name)
    return workspace


def spans(found: list[types.Diagnostic]) -> list[tuple[str | int | None, int, int, int, int]]:
    return [
        (
            d.code,
            d.range.start.line,
            d.range.start.character,
            d.range.end.line,
            d.range.end.character,
        )
        for d in found
    ]


async def test_the_create_action_is_offered_and_writes_what_draft_create_writes(
    client: LanguageClient, workspace: Path
) -> None:
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    uri = open_doc(client, workspace / "app.py", "python")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
            ),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions
    first = actions[0]
    assert isinstance(first, types.CodeAction)
    assert first.title == "Draft: create Dockerfile, chart and draft.toml (Python detected)"

    resolved = await client.code_action_resolve_async(first)
    assert resolved.edit is not None
    apply_edit(resolved.edit)
    assert_files_are_draft_creates(workspace)


async def test_the_create_command_sends_the_edit_to_the_editor(
    client: LanguageClient, workspace: Path
) -> None:
    """Editors that cannot resolve code actions run the command; the server asks the editor to
    apply the same edit (nothing is written behind its back)."""
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    (workspace / "Dockerfile").write_text("FROM python:3.12-slim\n# mine\n")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="draft.create", arguments=[workspace.as_uri(), "python"])
    )
    assert len(client.edits) == 1  # type: ignore[attr-defined]
    assert result["skipped"] == ["Dockerfile"]
    assert (workspace / "Dockerfile").read_text().endswith("# mine\n")
    assert_files_are_draft_creates(workspace, skipped={"Dockerfile"})


def assert_files_are_draft_creates(workspace: Path, skipped: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    name = next(
        line.split('"')[1]
        for line in (workspace / "draft.toml").read_text().splitlines()
        if line.startswith("name =")
    )
    for planned in scaffold.plan(packs.find_pack("python"), name):
        if str(planned.path) not in skipped:
            assert (workspace / planned.path).read_bytes() == planned.content, planned.path


async def test_draft_toml_mistakes_are_shown_where_they_are_and_fixed(
    client: LanguageClient, workspace: Path
) -> None:
    app = scaffolded(workspace)
    text = '[environments.development]\nname = "lsp-app"\nwatch_dlay = 2\nwait = "yes"\n'
    uri = open_doc(client, app / "draft.toml", "toml", text)
    found = await diagnostics_for(client, uri)
    assert ("unknown-key", 2, 0, 2, 10) in spans(found)
    assert ("wrong-type", 3, 7, 3, 12) in spans(found)

    unknown = next(d for d in found if d.code == "unknown-key")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=unknown.range,
            context=types.CodeActionContext(diagnostics=[unknown]),
        )
    )
    assert actions
    fix = actions[0]
    assert (
        isinstance(fix, types.CodeAction) and fix.edit is not None and fix.edit.changes is not None
    )
    (edit,) = fix.edit.changes[uri]
    lines = text.splitlines(keepends=True)
    line = lines[edit.range.start.line]
    lines[edit.range.start.line] = (
        line[: edit.range.start.character] + edit.new_text + line[edit.range.end.character :]
    )
    change(client, uri, 2, "".join(lines))
    after = await diagnostics_for(client, uri)
    assert "unknown-key" not in [d.code for d in after]

    change(client, uri, 3, '[environments.development]\nname = "lsp-app\n')
    syntax = await diagnostics_for(client, uri)
    assert [d.code for d in syntax] == ["toml-syntax"]
    assert syntax[0].range.start.line == 1


async def test_values_mistakes_land_on_their_lines(client: LanguageClient, workspace: Path) -> None:
    app = scaffolded(workspace)
    values = app / "chart" / "values.yaml"
    text = (
        values.read_text()
        .replace("replicaCount: 1", "replicaCount: three")
        .replace("type: ClusterIP", "type: Sideways")
    )
    uri = open_doc(client, values, "yaml", text)
    found = await diagnostics_for(client, uri)
    assert sorted((d.range.start.line, d.code) for d in found) == [(1, "schema"), (16, "schema")]


async def test_completion_and_hover_document_keys(client: LanguageClient, workspace: Path) -> None:
    app = scaffolded(workspace)
    toml_text = '[environments.development]\nname = "lsp-app"\n\n'
    toml_uri = open_doc(client, app / "draft.toml", "toml", toml_text)
    items = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=toml_uri),
            position=types.Position(line=2, character=0),
        )
    )
    assert items is not None
    labels = [i.label for i in (items.items if isinstance(items, types.CompletionList) else items)]
    assert "watch_delay" in labels and "name" not in labels

    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=toml_uri),
            position=types.Position(line=1, character=1),
        )
    )
    assert hover is not None and "**name**" in str(hover.contents)
    toml_hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=toml_uri),
            position=types.Position(line=3, character=2),
        )
    )
    assert toml_hover is None
    change(client, toml_uri, 2, toml_text + "watch_delay = 2\n")
    delay_hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=toml_uri),
            position=types.Position(line=3, character=2),
        )
    )
    assert delay_hover is not None and "seconds" in str(delay_hover.contents).lower()

    values = app / "chart" / "values.yaml"
    lines = values.read_text().splitlines()
    image_line = lines.index("image:")
    lines.insert(image_line + 1, "  ")
    values_uri = open_doc(client, values, "yaml", "\n".join(lines) + "\n")
    completion = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=values_uri),
            position=types.Position(line=image_line + 1, character=2),
        )
    )
    assert completion is not None
    tag = next(
        i
        for i in (completion.items if isinstance(completion, types.CompletionList) else completion)
        if i.label == "tag"
    )
    assert tag.detail is not None and "string" in tag.detail
    tag_line = lines.index("  tag: latest")
    tag_hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=values_uri),
            position=types.Position(line=tag_line, character=3),
        )
    )
    assert tag_hover is not None and "**image.tag**" in str(tag_hover.contents)


async def test_draftd_unreachable_is_one_clear_failure_and_checks_go_on(
    client: LanguageClient, workspace: Path
) -> None:
    app = scaffolded(workspace)
    (app / "draft.toml").write_text(
        (app / "draft.toml").read_text().replace("watch_delay = 0.2", "watch_delay = 0")
    )
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"draft": {"daemonUrl": "http://127.0.0.1:9"}})
    )
    uri = open_doc(client, app / "app.py", "python")

    def failures() -> list[Any]:
        return [s for s in client.statuses if s.phase == "failed"]  # type: ignore[attr-defined]

    for count in (1, 2):
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        await until_async(lambda n=count: len(failures()) >= n, 30, f"save {count} did not fail")
    # After the second failure's status the server logs it (shown only once): wait for that line.
    await until_async(
        lambda: any(
            m.type == types.MessageType.Error and "draftd does not answer" in m.message
            for m in client.log_messages
        ),
        10,
        "the second failure was not logged",
    )
    failed = failures()
    assert len(failed) == 2
    assert "draftd does not answer at http://127.0.0.1:9" in failed[0].message
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1, "the same failure is shown once, then only logged"

    toml_uri = open_doc(
        client, app / "draft.toml", "toml", '[environments.development]\nname = "Bad Name"\n'
    )
    assert [d.code for d in await diagnostics_for(client, toml_uri)] == ["invalid-name"]


async def test_a_keystroke_is_answered_while_a_deploy_waits(
    client: LanguageClient, workspace: Path
) -> None:
    """A stand-in draftd that accepts connections and never answers (said here: it stands for a
    slow build) keeps the deploy waiting; hover must not wait with it."""
    app = scaffolded(workspace)
    (app / "draft.toml").write_text(
        (app / "draft.toml").read_text().replace("watch_delay = 0.2", "watch_delay = 0")
    )
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"draft": {"daemonUrl": f"http://127.0.0.1:{port}"}}
            )
        )
        uri = open_doc(client, app / "app.py", "python")
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        silent.settimeout(30)  # the deploy has reached "draftd" once it connects
        connection, _ = await asyncio.to_thread(silent.accept)
        toml_uri = open_doc(client, app / "draft.toml", "toml")
        started = time.monotonic()
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=toml_uri),
                position=types.Position(line=4, character=1),
            )
        )
        assert time.monotonic() - started < 1
        assert hover is not None
        assert not [s for s in client.statuses if s.phase in ("ready", "failed")]  # type: ignore[attr-defined]
        connection.close()
    finally:
        silent.close()


class EveryPublish(dict[str, Any]):
    """The client's diagnostics, also recording every publish in order (pytest-lsp keeps only
    the newest per document)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, list[types.Diagnostic]]] = []

    def __setitem__(self, uri: str, diagnostics: Any) -> None:
        self.log.append((uri, list(diagnostics)))
        super().__setitem__(uri, diagnostics)


async def test_a_burst_of_edits_is_checked_once_on_the_last_text(
    client: LanguageClient, workspace: Path
) -> None:
    """A paste, a formatter or fast typing sends many changes at once: the editor gets the
    diagnostics of the last text only, not one publish per intermediate text that it would
    then have to wait through."""
    app = scaffolded(workspace)
    values = app / "chart" / "values.yaml"
    text = values.read_text()
    assert "replicaCount: 1\n" in text
    uri = open_doc(client, values, "yaml", text)
    assert await diagnostics_for(client, uri) == []
    client.diagnostics = published = EveryPublish()
    for version in range(2, 22):
        change(client, uri, version, text.replace("replicaCount: 1", f"replicaCount: {version}"))
    change(client, uri, 22, text.replace("replicaCount: 1", 'replicaCount: "two"'))
    found = await diagnostics_for(client, uri)
    assert [(d.range.start.line, d.code) for d in found] == [(1, "schema")], found
    # A marker text no earlier one shares: once its diagnostics are out, no older text's can
    # come (a check publishes only while its text is still the document's).
    change(client, uri, 23, text.replace("replicaCount: 1", "replicaCount: ["))
    await until_async(
        lambda: any(d.code == "yaml-syntax" for _, f in published.log for d in f),
        30,
        "the marker text's diagnostics never came",
    )
    assert [(u, [d.code for d in f]) for u, f in published.log] == [
        (uri, ["schema"]),
        (uri, ["yaml-syntax"]),
    ]
