"""draftd's memory is bounded: a build lets go of its manifest once it is over (superseded
ones too), and builds in flight, apps remembered and ended builds kept are all limited."""

from __future__ import annotations

import gc
import weakref

import pytest
from daemon_kit import DOCKERFILE, Daemon, manifest, settings
from waiting import until_async

from draftd.builds import BuildRegistry, TooBusy
from draftd.buildspec import parse_build_request
from draftd.model import Phase

pytestmark = pytest.mark.asyncio


def app_files(count: int, version: int = 0) -> dict[str, bytes]:
    files = {f"src/module_{n}.py": f"x = {n} + {version}\n".encode() for n in range(count)}
    return {"Dockerfile": DOCKERFILE, **files}


async def test_a_superseded_build_lets_go_of_its_manifest(daemon: Daemon) -> None:
    assert daemon.services is not None
    builds = daemon.services.builds
    waiting = await daemon.post_build(app_files(2000))  # never uploaded: waits for its files
    first = builds.get(waiting["buildId"])
    held = weakref.ref(first.spec.files[-1])
    await until_async(lambda: first.phase is Phase.UPLOADING, 5, "the build never waited")
    await daemon.post_build(app_files(2000, version=1))
    await until_async(
        lambda: first.ended and (first.task is None or first.task.done()),
        5,
        "the superseded build never ended",
    )

    def let_go() -> bool:  # after the cancelled task's last steps (history, clean-up)
        gc.collect()
        return held() is None

    await until_async(let_go, 5, lambda: f"still held by {gc.get_referrers(held())}")
    assert held() is None, gc.get_referrers(held())


async def test_builds_in_flight_are_bounded_per_daemon_and_per_app(daemon: Daemon) -> None:
    for number in range(16):
        await daemon.post_build({"Dockerfile": DOCKERFILE}, app=f"app-{number}")
    status, answer = await daemon.request(
        "POST",
        "/v1/builds",
        json={
            "app": "one-more",
            "environment": "development",
            "manifest": manifest({"Dockerfile": DOCKERFILE}),
            "settings": settings("one-more"),
        },
    )
    assert status == 429
    assert "already runs 16 builds" in answer["error"]
    # A new build of an app in flight supersedes it: that is always taken.
    await daemon.post_build({"Dockerfile": DOCKERFILE, "x": b"1"}, app="app-3")


def spec(app: str, environment: str = "development", files: int = 1):
    entries = manifest(app_files(files - 1) if files > 1 else {"Dockerfile": DOCKERFILE})
    body = {
        "app": app,
        "environment": environment,
        "manifest": entries,
        "settings": settings(app),
    }
    return parse_build_request(body, max_blob=1 << 20)


async def test_one_app_cannot_fill_draftd_through_its_environments() -> None:
    builds = BuildRegistry(max_per_app=4)
    for number in range(4):
        builds.start(spec("hello", f"env-{number}"), "t", str)
    with pytest.raises(TooBusy, match="already runs 4 builds of hello"):
        builds.start(spec("hello", "env-4"), "t", str)
    builds.start(spec("other"), "t", str)


async def test_the_files_builds_in_flight_hold_are_bounded() -> None:
    builds = BuildRegistry(max_files=250)
    builds.start(spec("one", files=200), "t", str)
    with pytest.raises(TooBusy, match="would hold 300 files"):
        builds.start(spec("two", files=100), "t", str)
    builds.start(spec("one", files=240), "t", str)  # supersedes its own: fits


async def test_idle_apps_are_forgotten_past_the_key_limit() -> None:
    builds = BuildRegistry(max_keys=3)
    started = []
    for number in range(6):
        build = builds.start(spec(f"app-{number}"), "t", str)
        build.finish(Phase.READY, "ready")
        started.append(build)
    assert [b.id for b in builds._by_id.values()] == [b.id for b in started[-3:]]
    assert len(builds._history) == len(builds._generation) == 3


async def test_an_ended_build_keeps_few_log_lines_in_memory() -> None:
    builds = BuildRegistry()
    build = builds.start(spec("chatty"), "t", str)
    for number in range(5000):
        build.log(f"line {number}")
    build.finish(Phase.READY, "ready")
    build.release()
    lines = build.log_lines()
    assert len(lines) < 210
    assert lines[0] == "[queued] queued (command)"
    assert lines[-2:] == ["line 4999", "[ready] ready"]
    assert any("log lines left out here" in line for line in lines)
    assert build.files == 0
