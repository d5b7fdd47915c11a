"""The editor's first minutes, as draft-ls sees them: the create code action is an edit followed
by `draft.created`; files the edit left unsaved are named when a save would deploy them; the
client's own saves of those files deploy nothing; then one save deploys. And `draft.up`
overtaken by a save answers "superseded", not an error."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from waiting import until_async

from draft import packs, scaffold

REPO = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"
pytestmark = pytest.mark.asyncio


def save(client: LanguageClient, path: Path) -> None:
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri())
        )
    )


async def resolved_create(client: LanguageClient, workspace: Path) -> types.CodeAction:
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    uri = (workspace / "app.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=(workspace / "app.py").read_text()
            )
        )
    )
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions and isinstance(actions[0], types.CodeAction)
    return await client.code_action_resolve_async(actions[0])


def create_files_unsaved(edit: types.WorkspaceEdit) -> dict[Path, str]:
    """What an editor does with the edit before anyone saves: empty files on disk, their text
    in buffers (returned)."""
    buffers: dict[Path, str] = {}
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            path = Path(change.uri.removeprefix("file://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
        elif isinstance(change, types.TextDocumentEdit):
            (text_edit,) = change.edits
            assert isinstance(text_edit, types.TextEdit)
            buffers[Path(change.text_document.uri.removeprefix("file://"))] = text_edit.new_text
    return buffers


@pytest.mark.parametrize("client", [{"daemonUrl": UNREACHABLE}], indirect=True)
async def test_create_then_one_save_deploys_and_unsaved_files_are_named(
    client: LanguageClient, workspace: Path
) -> None:
    action = await resolve_and_check(client, workspace)
    assert action.edit is not None
    buffers = create_files_unsaved(action.edit)
    toml = workspace / "draft.toml"
    buffers[toml] = buffers[toml].replace("watch_delay = 2", "watch_delay = 0")

    # The user saves app.py while the created files are still unsaved: no deploy of an empty
    # draft.toml, one sentence naming the files and what to do.
    save(client, workspace / "app.py")
    await until_async(lambda: client.messages, 20, "no message after the save")
    (warning,) = client.messages
    assert warning.type == types.MessageType.Warning
    assert warning.message == (
        "draft.toml, Dockerfile, .dockerignore and 9 more files are not saved yet (Draft created "
        "them): save them (File: Save All), then save again to deploy."
    )
    assert not client.statuses  # type: ignore[attr-defined]
    assert deploys_logged(client) == ["app.py saved: deploying"]

    # Draft's client saves what the edit made (each save reaches the server; none deploys),
    # then runs the action's command: the next step, as the CLI says it.
    for path, text in buffers.items():
        path.write_text(text)
        save(client, path)
    assert action.command is not None
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )
    app = action.command.arguments[0]["app"]  # type: ignore[index]
    assert result["unsaved"] == []
    assert result["message"] == (
        f"Created {app} from the python pack — save a file to deploy it, or run Draft: Up."
    )
    await until_async(lambda: len(client.messages) == 2, 20, "the next step was not shown")
    assert client.messages[-1].message == result["message"]
    # The server handles the saves before the command that followed them: had one of them
    # started a deploy, its log line would be here by now.
    assert deploys_logged(client) == ["app.py saved: deploying"], (
        "saving the created files deployed"
    )

    # One save of app.py deploys (to a draftd that is not there: the deploy is tried, and fails
    # at once).
    save(client, workspace / "app.py")
    statuses = client.statuses  # type: ignore[attr-defined]
    await until_async(lambda: statuses, 20, "the save of app.py deployed nothing")
    (failed,) = statuses
    assert failed.phase == "failed"
    assert f"draftd does not answer at {UNREACHABLE}" in failed.message
    assert deploys_logged(client) == ["app.py saved: deploying"] * 2


def deploys_logged(client: LanguageClient) -> list[str]:
    return [m.message for m in client.log_messages if m.message.endswith("saved: deploying")]


async def resolve_and_check(client: LanguageClient, workspace: Path) -> types.CodeAction:
    action = await resolved_create(client, workspace)
    assert action.command is not None and action.command.command == "draft.created"
    (created,) = action.command.arguments or []
    assert created["folder"] == workspace.as_uri() and created["pack"] == "python"
    assert "draft.toml" in created["files"] and "chart/Chart.yaml" in created["files"]
    return action


async def test_created_says_which_files_still_need_saving(
    client: LanguageClient, workspace: Path
) -> None:
    """An editor that runs the command without saving first (any LSP client but Draft's)."""
    action = await resolve_and_check(client, workspace)
    assert action.edit is not None and action.command is not None
    create_files_unsaved(action.edit)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="draft.created", arguments=action.command.arguments)
    )
    assert len(result["unsaved"]) == 12
    assert result["message"].endswith(
        "but draft.toml, Dockerfile, .dockerignore and 9 more files are not saved yet: "
        "save them (File: Save All), then save a file to deploy the app."
    )


@pytest.mark.parametrize("client", [{"daemonUrl": UNREACHABLE}], indirect=True)
async def test_after_a_create_written_without_saves_the_first_save_of_draft_toml_deploys(
    client: LanguageClient, workspace: Path
) -> None:
    """Neovim writes the created files without a didSave (:DraftCreate, then `draft.created`):
    a later save of one of them is the user's, and deploys."""
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="draft.create", arguments=[workspace.as_uri()])
    )  # the test's editor writes the edit's files with their text (lsp_kit.apply_edit)
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="draft.created", arguments=[result])
    )
    toml = workspace / "draft.toml"
    toml.write_text(toml.read_text().replace("watch_delay = 2", "watch_delay = 0"))
    save(client, toml)
    statuses = client.statuses  # type: ignore[attr-defined]
    await until_async(lambda: statuses, 20, "the save of draft.toml deployed nothing")
    assert deploys_logged(client) == ["draft.toml saved: deploying"]


@pytest.mark.parametrize("client", [{"daemonUrl": UNREACHABLE}], indirect=True)
async def test_a_file_the_pack_means_empty_is_not_waited_for(
    client: LanguageClient, workspace: Path, team_packs: Path
) -> None:
    """A team pack with an empty `__init__.py`: written, it is still empty on disk, and neither
    the next step nor the first save of app.py says it is unsaved."""
    shutil.copytree(REPO / "packs" / "python", team_packs / "flaskish")
    manifest = team_packs / "flaskish" / "pack.toml"
    manifest.write_text(manifest.read_text().replace('name = "python"', 'name = "flaskish"'))
    (team_packs / "flaskish" / "pkg").mkdir()
    (team_packs / "flaskish" / "pkg" / "__init__.py").write_text("")
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="draft.create", arguments=[workspace.as_uri(), "flaskish"]
        )
    )  # the test's editor writes the edit's files with their text (lsp_kit.apply_edit)
    assert "pkg/__init__.py" in result["files"]
    assert (workspace / "pkg" / "__init__.py").read_text() == ""
    toml = workspace / "draft.toml"
    toml.write_text(toml.read_text().replace("watch_delay = 2", "watch_delay = 0"))
    after = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="draft.created", arguments=[result])
    )
    assert after["unsaved"] == []
    save(client, workspace / "app.py")
    statuses = client.statuses  # type: ignore[attr-defined]
    await until_async(lambda: statuses, 20, "the save of app.py deployed nothing")
    assert statuses[0].phase == "failed"
    assert not [m for m in client.messages if "not saved yet" in m.message]


async def test_draft_up_overtaken_by_a_save_answers_superseded(
    client: LanguageClient, workspace: Path
) -> None:
    """A stand-in draftd that accepts connections and never answers keeps `draft.up` waiting;
    a save of the app meanwhile takes over, and the command answers, without an error."""
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    scaffold.create(workspace, packs.find_pack("python"), "overtaken")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"draft": {"daemonUrl": f"http://127.0.0.1:{silent.getsockname()[1]}"}}
            )
        )
        up = asyncio.ensure_future(
            client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="draft.up", arguments=[workspace.as_uri()])
            )
        )
        # Its deploy is under way (its progress began) and waits on the silent draftd.
        await until_async(lambda: client.progress_reports, 20, "draft.up started no deploy")
        assert not up.done()
        save(client, workspace / "app.py")
        result = await asyncio.wait_for(up, 10)
    finally:
        silent.close()
    assert result["phase"] == "superseded" and result["app"] == "overtaken"
    assert not [m for m in client.messages if m.type == types.MessageType.Error]
