"""Watch mode never loses a failure: a save that lands between hashing a file and uploading it
is sent again (the newest text is deployed), and a redeploy that fails shows `✗` and leaves the
watch running. A stand-in draftd (aiohttp, in process) refuses a blob whose bytes do not hash
to its digest, as draftd does."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from waiting import until_async

from draft import deploy, manifest, packs, scaffold, watch
from draft.client import ContextChanged
from draft.errors import DraftError

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.asyncio


class StandInDraftd:
    """Builds, blobs and events, enough for `draft.deploy.up`; every blob checked."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.builds: list[dict[str, Any]] = []
        self.refused = 0
        app = web.Application()
        app.router.add_get("/v1/health", self.health)
        app.router.add_post("/v1/builds", self.create)
        app.router.add_put("/v1/blobs/{digest}", self.blob)
        app.router.add_get("/v1/builds/{id}/events", self.events)
        self.runner = web.AppRunner(app)
        self.url = ""

    async def __aenter__(self) -> StandInDraftd:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.runner.cleanup()

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "stand-in"})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.builds.append(body)
        missing = sorted(
            {e["digest"] for e in body["manifest"] + body["chart"] if "link" not in e}
            - set(self.blobs)
        )
        return web.json_response(
            {"buildId": f"b-{len(self.builds):012d}", "missing": missing}, status=202
        )

    async def blob(self, request: web.Request) -> web.Response:
        data = await request.read()
        digest = request.match_info["digest"]
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            self.refused += 1
            return web.json_response({"error": "The blob does not match its digest."}, status=400)
        self.blobs[digest] = data
        return web.json_response({"digest": digest, "size": len(data)}, status=201)

    async def events(self, request: web.Request) -> web.StreamResponse:
        build = self.builds[int(request.match_info["id"].removeprefix("b-")) - 1]
        missing = [
            e for e in build["manifest"] if e["digest"] not in self.blobs and "link" not in e
        ]
        phase = "failed" if missing else "ready"
        event = {"seq": 1, "kind": "phase", "phase": phase, "message": phase,
                 "url": "http://127.0.0.1:1", "reason": "blobs never came" if missing else ""}  # fmt: skip
        return web.Response(text=json.dumps(event) + "\n")

    def served(self, path: str) -> bytes:
        """What the newest build has for `path`."""
        entry = next(e for e in self.builds[-1]["manifest"] if e["path"] == path)
        return self.blobs[entry["digest"]]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", root)
    scaffold.create(root, packs.find_pack("python"), "watched-app")
    return root


def save_after_hashing(monkeypatch: pytest.MonkeyPatch, app: Path, texts: list[str]) -> None:
    """After each of the next len(texts) hashes of the context, app.py is saved again."""
    hash_context = manifest.build_context

    def hashed_then_saved(root: Path, dockerfile: str = "Dockerfile") -> list[manifest.Entry]:
        entries = hash_context(root, dockerfile)
        if texts:
            (app / "app.py").write_text(texts.pop(0))
        return entries

    monkeypatch.setattr(manifest, "build_context", hashed_then_saved)


async def test_a_save_between_hashing_and_upload_is_sent_again_and_the_newest_text_deployed(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_after_hashing(monkeypatch, app, ["print('saved mid-upload')\n"])
    async with StandInDraftd() as draftd:
        result = await deploy.up(app, daemon_url=draftd.url)
    assert result.phase == "ready", result.message
    assert draftd.served("app.py") == b"print('saved mid-upload')\n"
    assert draftd.refused == 0  # the client noticed before sending stale bytes
    assert len(draftd.builds) == 2  # the second build supersedes the first


async def test_a_file_that_keeps_changing_fails_the_deploy_saying_so(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_after_hashing(monkeypatch, app, [f"print({n})\n" for n in range(10)])
    async with StandInDraftd() as draftd:
        with pytest.raises(ContextChanged, match=r"app\.py changed while Draft was uploading it"):
            await deploy.up(app, daemon_url=draftd.url)
    assert len(draftd.builds) == deploy.CHANGED_RETRIES + 1


async def test_a_failing_redeploy_is_reported_and_the_watch_goes_on(
    app: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The watch task's exception used to be never retrieved: an asyncio traceback, no `✗`."""
    errors: list[Exception] = []
    deploys = 0

    async def failing(not_before: float) -> object:
        nonlocal deploys
        deploys += 1
        raise DraftError("draftd refused the upload.")

    watched = asyncio.Event()

    async def first() -> None:  # run once the folder is watched
        watched.set()

    watching = asyncio.create_task(
        watch.watch(app, 0, failing, first=first, on_error=errors.append)
    )
    try:
        await until_async(watched.is_set, 10, "the watch never started watching")
        for n in range(2):
            (app / "app.py").write_text(f"print({n})\n")
            await until_async(lambda n=n: len(errors) > n, 5, f"save {n} was never deployed")
        assert [str(e) for e in errors] == ["draftd refused the upload."] * 2
        assert not watching.done(), "the watch ended on a failed deploy"
    finally:
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
    assert "never retrieved" not in caplog.text
