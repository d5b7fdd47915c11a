"""A redeploy on the docker target, as the developer's browser sees it: the URL never changes,
never refuses a request while the new container takes over, and comes back after draftd
restarts. The real CLI, a real draftd (the `draftd` fixture) and the real Docker engine."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import pytest
from kit import Draftd, fetch, read_line, scaffold, set_greeting, stop, wait_for_text
from waiting import until

pytestmark = pytest.mark.docker


class Poller:
    """A browser refreshing the app's URL every 10 ms, each time on a new connection: what it
    was answered, None where the request failed (refused, reset or cut off)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[str | None] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._done.is_set():
            self.answers.append(fetch(self.url))
            time.sleep(0.01)

    @contextmanager
    def running(self) -> Iterator[Poller]:
        self._thread.start()
        try:
            yield self
        finally:
            self._done.set()
            self._thread.join(10)

    def failures(self) -> int:
        return self.answers.count(None)


def up(draftd: Draftd, app: Path) -> str:
    result = draftd.draft("up", str(app), "--no-watch")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_a_rebuild_swaps_containers_without_a_failed_request_on_the_same_url(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "swap-e2e", sync=False)
    url = up(draftd, app)
    assert fetch(url) == "Hello World!"
    first = docker_engine.containers.get("draft-swap-e2e-development").id
    labelled = {"label": ["sh.draft.app=swap-e2e"]}

    def apps() -> list[str]:  # the containers that run the app (not those holding a network)
        found = docker_engine.api.containers(all=True, filters=labelled)
        return [c["Names"][0][1:] for c in found if c["Labels"].get("sh.draft.role") != "network"]

    with Poller(url).running() as poller:
        for text in ("Second version", "Third version"):
            set_greeting(app, text)
            assert up(draftd, app) == url, "a redeploy keeps the app's URL"
            wait_for_text(url, text)
        # The browser keeps refreshing until the swap has ended: the old containers are gone,
        # and it was answered the newest text.
        until(
            lambda: (
                apps() == ["draft-swap-e2e-development"]
                and poller.answers[-1:] == ["Third version"]
            ),
            30,
            lambda: f"left: {apps()}, last answered: {poller.answers[-1:]}",
        )

    assert poller.failures() == 0, f"{poller.failures()} of {len(poller.answers)} requests failed"
    texts = [t for i, t in enumerate(poller.answers) if i == 0 or t != poller.answers[i - 1]]
    assert texts == ["Hello World!", "Second version", "Third version"], texts
    serving = docker_engine.containers.get("draft-swap-e2e-development")
    assert serving.id != first, "the save built a new container"


@pytest.mark.parametrize("pause", [0.0, 0.15, 0.3, 0.6])
def test_two_saves_in_quick_succession_end_on_the_newest_text_on_the_same_port(
    tmp_path: Path, draftd: Draftd, pause: float
) -> None:
    """The second save lands while the first one is building, deploying or waiting for its
    container to answer (with `pause` seconds between them)."""
    app = scaffold(tmp_path / "app", "twice-e2e", watch_delay=0, sync=False)
    watching = draftd.draft_background("up", str(app), "--watch")
    try:
        url = read_line(watching.stdout).strip()
        wait_for_text(url, "Hello World!")
        with Poller(url).running() as poller:
            set_greeting(app, "first save")
            time.sleep(pause)
            second_saved = time.time()
            set_greeting(app, "second save")
            wait_for_text(url, "second save")
            # Once a build of the second save has deployed and ended ready, no older build can
            # deploy: draftd deploys one build of an app at a time, never one older than a
            # build that deployed.
            until(
                lambda: newest_build_deployed(draftd, "twice-e2e", since=second_saved),
                60,
                "no build of the second save ended ready as the one serving",
            )
        assert fetch(url) == "second save"
    finally:
        stop(watching)
    assert poller.failures() == 0, f"{poller.failures()} of {len(poller.answers)} requests failed"
    status = draftd.draft("status", str(app))
    assert f"twice-e2e/development on docker: running at {url}" in status.stdout, status.stdout


def newest_build_deployed(draftd: Draftd, app: str, *, since: float) -> bool:
    """Whether the build serving `app` now started after `since` (epoch seconds) and has ended
    ready (draftd's history holds ended builds only)."""
    _, deployment = draftd.call("GET", f"/v1/apps/{app}/development")
    _, history = draftd.call("GET", f"/v1/apps/{app}/development/history")
    return (
        isinstance(deployment, dict)
        and isinstance(history, list)
        and any(
            entry["buildId"] == deployment.get("buildId")
            and entry["outcome"] == "ready"
            and entry["startedAt"] >= since
            for entry in history
        )
    )


def test_after_draftd_restarts_the_url_answers_again_and_keeps_its_port(
    tmp_path: Path, draftd: Draftd
) -> None:
    app = scaffold(tmp_path / "app", "restart-e2e", sync=False)
    url = up(draftd, app)
    assert fetch(url) == "Hello World!"

    draftd.stop()
    draftd.start()
    wait_for_text(url, "Hello World!", timeout=30)  # no `draft up`: draftd serves it again

    set_greeting(app, "After the restart")
    assert up(draftd, app) == url
    assert fetch(url) == "After the restart"
    logs = draftd.draft("logs", str(app))
    assert "Running on" in logs.stdout, logs.stdout[-2000:] + logs.stderr[-2000:]
    assert draftd.draft("connect", str(app)).stdout.strip() == url
    assert draftd.draft("delete", str(app)).stdout.strip() == "Deleted."
    assert fetch(url) is None


def test_a_port_another_program_took_while_draftd_was_stopped_is_said_so(
    tmp_path: Path, draftd: Draftd
) -> None:
    app = scaffold(tmp_path / "app", "taken-e2e", sync=False)
    url = up(draftd, app)
    draftd.stop()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        squatter.listen()
        draftd.start()
        status = draftd.draft("status", str(app))
        assert "cannot listen on its port" in status.stdout + status.stderr, status
        failed = draftd.draft("up", str(app), "--no-watch")
        assert failed.returncode == 1
        assert "is taken by another program" in failed.stderr, failed.stderr[-2000:]
    assert up(draftd, app) == url, "once the port is free the app gets it back"
    assert fetch(url) == "Hello World!"
