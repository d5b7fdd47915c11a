"""`draft logs` and `draft status` exit non-zero when draftd reports an error: scripts and CI
steps that run them must be able to tell. draftd's logs answer marks an error met while
streaming (the status is sent by then) so the client tells it from the app's own output."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from draft import packs, scaffold
from draft.cli import main
from draft.errors import DraftError
from draftd import apps_api
from draftd.model import Deployment
from draftd.services import SERVICES

REPO = Path(__file__).resolve().parents[1]


class Target:
    """A deploy target whose logs fail after two lines (the engine went away mid-stream)."""

    name = "docker"

    def __init__(self, state: str = "running", detail: str = "") -> None:
        self.state = state
        self.detail = detail

    async def status(self, key: Any) -> Deployment:
        return Deployment(key, self.name, "http://127.0.0.1:1", None, None, self.state, self.detail)

    async def logs(self, key: Any, *, follow: bool, tail: int) -> AsyncIterator[str]:
        yield "draftd: this line is the app's own output"
        yield "second line"
        raise DraftError("The Docker engine is not running.", "Start it and try again.")


def daemon(target: Target) -> Iterator[str]:
    """draftd's real /v1/apps handlers over a stand-in target, on a thread of its own."""
    app = web.Application()
    apps_api.add_routes(app.router)
    app[SERVICES] = SimpleNamespace(  # type: ignore[misc]
        pipeline=SimpleNamespace(targets={"docker": target}),
        apps=SimpleNamespace(get=lambda key: None),
    )

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"version": "test"})

    app.router.add_get("/v1/health", health)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", root)
    scaffold.create(root, packs.find_pack("python"), "logged-app")
    monkeypatch.setenv("DRAFT_NO_AUTOSTART", "1")
    return root


def test_logs_exit_non_zero_when_draftd_fails_mid_stream(
    app: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for url in daemon(Target()):
        monkeypatch.setenv("DRAFT_DAEMON_URL", url)
        assert main(["logs", str(app)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == ["draftd: this line is the app's own output", "second line"]
    assert "The Docker engine is not running." in err and "Start it and try again." in err


@pytest.mark.parametrize(
    ("state", "code"), [("running", 0), ("starting", 0), ("failed", 1), ("unknown", 1)]
)
def test_status_exit_code_says_whether_the_app_is_healthy(
    app: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    state: str,
    code: int,
) -> None:
    detail = "the docker target did not answer within 15 s" if state == "unknown" else ""
    for url in daemon(Target(state, detail)):
        monkeypatch.setenv("DRAFT_DAEMON_URL", url)
        assert main(["status", str(app)]) == code
    assert f"logged-app/development on docker: {state}" in capsys.readouterr().out
