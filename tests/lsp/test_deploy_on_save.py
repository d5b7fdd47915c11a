"""Save to deploy, end to end: the real language server, a real draftd, the real Docker engine.
A save of a changed app.py moves `draft/status` through building to ready with a URL, the URL
answers the new text, and the client saw work-done progress begin and end."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from kit import Draftd, fetch, free_port, removing_new_containers, set_greeting
from lsprotocol import types
from pytest_lsp import LanguageClient
from waiting import until_async

from draft import packs, scaffold

REPO = Path(__file__).resolve().parents[2]
PORT = free_port()
pytestmark = [pytest.mark.docker, pytest.mark.asyncio]


@pytest.fixture
def draftd(
    draftd_state: Path, docker_engine: docker.DockerClient, python_base_image: str
) -> Iterator[Draftd]:
    """The shared draftd fixture's twin on a port fixed at import (the client's settings name
    it), with its state where the server looks for the token."""
    daemon = Draftd(draftd_state, PORT)
    daemon.start()
    with removing_new_containers(docker_engine):
        yield daemon
    daemon.stop()


@pytest.mark.parametrize("client", [{"daemonUrl": f"http://127.0.0.1:{PORT}"}], indirect=True)
async def test_save_redeploys_and_serves_the_new_text(
    client: LanguageClient, workspace: Path, draftd: Draftd
) -> None:
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    scaffold.create(workspace, packs.find_pack("python"), "saved-app")
    toml = workspace / "draft.toml"
    toml.write_text(toml.read_text().replace("watch_delay = 0.2", "watch_delay = 0"))
    uri = (workspace / "app.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=(workspace / "app.py").read_text()
            )
        )
    )
    greeting = f"Saved from the editor {uuid.uuid4().hex[:8]}!"  # new content: a real build
    set_greeting(workspace, greeting)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )

    await until_async(
        lambda: any(s.phase in ("ready", "failed") for s in client.statuses),  # type: ignore[attr-defined]
        240,
        "the deploy never finished",
    )
    phases = [s.phase for s in client.statuses]  # type: ignore[attr-defined]
    assert "building" in phases and "deploying" in phases
    ready = client.statuses[-1]  # type: ignore[attr-defined]
    assert ready.phase == "ready", ready.message
    assert ready.app == "saved-app" and ready.url.startswith("http://127.0.0.1:")
    assert fetch(ready.url) == greeting
    assert re.fullmatch(r"upload \S+ s, build \S+ s, deploy \S+ s, ready \S+ s", ready.timings)

    (reports,) = client.progress_reports.values()
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    # The progress ends and the message goes out once `up` has returned, after draft/status.
    await until_async(
        lambda: isinstance(reports[-1], types.WorkDoneProgressEnd), 10, "progress never ended"
    )
    await until_async(lambda: client.messages, 10, "no message after the deploy")
    assert any(m.type == types.MessageType.Info and ready.url in m.message for m in client.messages)
    assert any(re.search(r"\[(\S+ )?\d+/\d+\] FROM ", m.message) for m in client.log_messages), (
        "build output reaches the editor's log"
    )


@pytest.mark.parametrize("client", [{"daemonUrl": f"http://127.0.0.1:{PORT}"}], indirect=True)
async def test_twenty_saves_over_150_ms_are_one_deploy_as_scaffolded(
    client: LanguageClient, workspace: Path, draftd: Draftd
) -> None:
    """Save All in an editor: twenty didSave notifications within 150 ms, with the watch_delay
    `draft create` writes, start one deploy, of the newest text."""
    shutil.copytree(REPO / "examples" / "python", workspace, dirs_exist_ok=True)
    scaffold.create(workspace, packs.find_pack("python"), "save-all-app")
    uris = []
    for index in range(20):
        path = workspace / f"module_{index:02}.py"
        path.write_text(f"VALUE = {index}\n")
        uris.append(path.as_uri())
    greeting = f"Saved all {uuid.uuid4().hex[:8]}"
    set_greeting(workspace, greeting)
    uris[-1] = (workspace / "app.py").as_uri()
    started = time.monotonic()
    for index, uri in enumerate(uris):
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        # Paced over 150 ms: the burst is the test's input, not a wait for something.
        await asyncio.sleep(max(0.0, started + 0.15 * (index + 1) / 20 - time.monotonic()))

    await until_async(
        lambda: any(s.phase in ("ready", "failed") for s in client.statuses),  # type: ignore[attr-defined]
        240,
        "the deploy never finished",
    )
    statuses = client.statuses  # type: ignore[attr-defined]
    assert statuses[-1].phase == "ready", statuses[-1].message
    assert fetch(statuses[-1].url) == greeting
    # Every save but the last was cancelled while it waited out the quiet period: one deploy.
    assert len({s.buildId for s in statuses if getattr(s, "buildId", None)}) == 1, statuses
    assert len(client.progress_reports) == 1
