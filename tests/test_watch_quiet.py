"""Watch mode spends a short quiet period building: the deploy starts as soon as a burst of
saves has settled, told not to deploy before the quiet period ends (draftd holds it; see
tests/draftd/test_draftd_builds.py); a long `watch_delay` is waited out before anything
starts. A burst is still one deploy."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from waiting import until_async

from draft import config, watch

pytestmark = pytest.mark.asyncio


class Calls:
    """Each deploy the watch starts: when, and the `not_before` it was given."""

    def __init__(self) -> None:
        self.started: list[tuple[float, float]] = []

    async def deploy(self, not_before: float) -> object:
        self.started.append((time.monotonic(), not_before))
        return None


@contextlib.asynccontextmanager
async def watching(folder: Path, delay: float, calls: Calls) -> AsyncIterator[None]:
    ready = asyncio.Event()

    async def first() -> None:
        ready.set()

    task = asyncio.create_task(watch.watch(folder, delay, calls.deploy, first=first))
    try:
        await until_async(ready.is_set, 10, "the watch never started watching")
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_save_starts_building_at_once_and_deploys_after_the_quiet_period(
    tmp_path: Path,
) -> None:
    calls = Calls()
    delay = config.QUIET_SPENT_BUILDING
    async with watching(tmp_path, delay, calls):
        (tmp_path / "app.py").write_text("print('saved')\n")
        saved = time.monotonic()
        await until_async(lambda: calls.started, 10, "the save started no deploy")
    ((started, not_before),) = calls.started
    assert started < saved + delay, "the deploy waited out the quiet period before building"
    assert not_before >= saved + delay - 0.05, "the deploy may come before the quiet period ends"


async def test_a_burst_of_saves_is_one_deploy_after_its_last_save(tmp_path: Path) -> None:
    calls = Calls()
    delay = 0.5
    async with watching(tmp_path, delay, calls):
        for n in range(20):  # twenty files over ≈ 0.1 s: closer together than SETTLE
            (tmp_path / f"file-{n}.txt").write_text(f"{n}\n")
            await asyncio.sleep(0.005)
        last = time.monotonic()
        await until_async(lambda: calls.started, 10, "the burst started no deploy")
    assert len(calls.started) == 1, calls.started
    ((_, not_before),) = calls.started
    assert not_before >= last + delay - 0.05


async def test_a_long_watch_delay_builds_nothing_until_the_folder_is_quiet(
    tmp_path: Path,
) -> None:
    calls = Calls()
    delay = config.QUIET_SPENT_BUILDING + 0.5
    async with watching(tmp_path, delay, calls):
        (tmp_path / "app.py").write_text("print('saved')\n")
        saved = time.monotonic()
        await until_async(lambda: calls.started, 10, "the save started no deploy")
    ((started, _),) = calls.started
    assert started >= saved + delay - 0.05, "a long watch_delay started a build before it ended"
