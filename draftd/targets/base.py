"""The one interface every deploy target implements.

A target knows nothing of uploads, builds or events beyond the callback it is
given: draftd's build pipeline calls `deploy` with an image that exists, and
the target reports progress through `report` and returns where the app answers
or raises `DeployError` with the reason a user can act on. A target that can
take saves without a build has a `syncer` (`draftd.sync.syncer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from draft.errors import DraftError
from draftd.model import AppKey, Deployment, DeployRequest

if TYPE_CHECKING:
    from draftd.sync.syncer import Syncer

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


class DeployTarget(Protocol):
    name: str

    @property
    def syncer(self) -> Syncer | None:
        """How saves are synced into the apps this target runs; None: every save builds.

        With a syncer, a deploy whose `request.restartable` is set runs the app under the
        restart wrapper and names in `Deployment.sync_instance` what a sync goes into.
        """
        ...

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
