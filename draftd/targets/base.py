"""The one interface every deploy target implements.

A target knows nothing of uploads, builds or events beyond the callback it is
given: draftd's build pipeline calls `deploy` with an image that exists, and
the target reports progress through `report` and returns where the app answers
or raises `DeployError` with the reason a user can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

from draft.errors import DraftError
from draftd.model import AppKey, Deployment, DeployRequest, SyncRequest

Report = Callable[[str], None]
"""Send one line of deploy output to the build's event stream."""


class DeployError(DraftError):
    """The deploy failed for a reason the user can act on (CrashLoopBackOff, a port in use…)."""

    def __init__(self, message: str, hint: str = "", logs: str = "") -> None:
        super().__init__(message, hint)
        self.logs = logs
        """The app's last log lines, when it started and died."""


class TargetUnavailable(DraftError):
    """The target cannot be reached at all (no Docker engine, no cluster)."""


class SyncUnavailable(DraftError):
    """The app no longer runs as the container a sync was meant for: build and deploy instead."""


class DeployTarget(Protocol):
    name: str

    async def available(self) -> bool:
        """Whether this target can deploy right now (engine or cluster answers)."""
        ...

    async def deploy(self, request: DeployRequest, report: Report) -> Deployment:
        """Run `request.image`, replacing what runs for the same key; wait until it answers."""
        ...

    async def status(self, key: AppKey) -> Deployment: ...

    def logs(self, key: AppKey, *, follow: bool, tail: int) -> AsyncIterator[str]:
        """The app's output lines, newest last; with `follow`, until the caller stops."""
        ...

    async def delete(self, key: AppKey) -> bool:
        """Remove what runs for `key`; False when there was nothing."""
        ...

    async def exec(self, key: AppKey, command: list[str]) -> tuple[int, str]:
        """Run `command` inside the app (its container, or its newest pod): exit code, output."""
        ...

    async def connect(self, key: AppKey, local_port: int | None) -> str:
        """A URL on this machine that reaches the app (a port-forward where needed)."""
        ...


@runtime_checkable
class LiveSync(Protocol):
    """A target that can copy changed files into the running app and restart it there.

    A deploy with `request.restartable` answers a `Deployment` whose `extra["container"]`
    names what a later `sync` goes into.
    """

    async def can_sync(self, key: AppKey, container: str) -> bool:
        """Whether `container` still runs the app for `key`, ready to be synced."""
        ...

    async def sync(self, request: SyncRequest, report: Report) -> Deployment:
        """Copy the files in, restart the app, and (with `request.wait`) wait until it answers.

        `SyncUnavailable` when the container is gone; `DeployError` when the app dies.
        """
        ...


Produce = Callable[[Callable[[str], None], threading.Event], None]
"""Blocking: calls `emit(line)` for each line until its stream ends or the event is set."""


async def lines_from_thread(
    produce: Produce,
    *,
    quiet: tuple[type[BaseException], ...],
    close: Callable[[], None] = lambda: None,
) -> AsyncIterator[str]:
    """The lines a blocking log stream gives, read in a worker thread, as they come.

    Errors of the kinds in `quiet` end the stream (a log stream ends, it does not fail).
    When the consumer stops early the event is set and `close` unblocks the reader.
    """
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    stop = threading.Event()

    def emit(line: str) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, line)

    def pump() -> None:
        try:
            produce(emit, stop)
        except quiet:
            pass
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    reader = loop.run_in_executor(None, pump)
    try:
        while (line := await lines.get()) is not None:
            yield line
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader, 2)
