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
import http.client
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from draft.errors import DraftError
from draftd.model import AppKey, Deployment, DeployRequest, Image

if TYPE_CHECKING:
    from draftd.sync.syncer import Syncer

Report = Callable[[str], None]
"""Send one line of deploy output to the build's event stream."""

EXEC_TIMEOUT = 300.0
"""How long a task run in the app (`exec`) may take unless the request says otherwise."""
MAX_EXEC_OUTPUT = 1024 * 1024
"""The most output of one task draftd keeps and answers: its first and its last half."""
TIMED_OUT = 124
"""The exit code of a task stopped at its time limit, as timeout(1) gives."""
TASK_MARKER = "DRAFT_TASK"
"""The variable in a task's environment that names it (`task_marker`); the processes it starts
inherit it, so the task can be stopped whole."""
STOP_MARKED_TASK = (
    'for pass in 1 2 3; do for p in /proc/[0-9]*; do grep -qsF "$1" "$p/environ" '
    '&& kill -9 "${p#/proc/}" 2>/dev/null; done; done; true'
)
"""Run by the app's /bin/sh with a task's marker as "$1": SIGKILL to every process whose
environment has it, three passes over /proc to catch a child forked during the first."""


@dataclass(frozen=True)
class ExecResult:
    """A task run inside the app: its exit code, its (bounded) output, and whether it was cut
    short — stopped at its time limit, or its output shortened — said in one sentence."""

    exit_code: int
    output: str
    cut_short: str = ""


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

    async def prepare(self, key: AppKey) -> None:
        """A build that will deploy `key` here started: make ready what its deploy needs
        while the image builds (it must not raise; a deploy that finds nothing ready does it
        itself)."""
        ...

    async def derive(
        self, image: Image, *, restartable: bool, pushed: bool, report: Report
    ) -> Image:
        """The image this target runs for the freshly built `image`: `image` itself, or one
        made from it (the kubernetes target's `-sync` image for a `restartable` app), in the
        registry when `pushed`. The pipeline runs it beside the push of `image`."""
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

    async def exec(
        self, key: AppKey, command: list[str], *, timeout: float, limit: int
    ) -> ExecResult:
        """Run `command` inside the app (its container, or its newest pod), stopping it after
        `timeout` seconds and keeping at most `limit` bytes of its output (`run_bounded`)."""
        ...

    async def connect(self, key: AppKey, local_port: int | None) -> str:
        """A URL on this machine that reaches the app (a port-forward where needed)."""
        ...


@runtime_checkable
class ServesApps(Protocol):
    """A target through which draftd itself serves the apps (the docker target's app ports):
    after draftd starts it serves again what it had deployed, and it stops with draftd."""

    async def resume(self, keys: list[AppKey]) -> None:
        """Serve again the apps of `keys` that still run (in the background)."""
        ...

    async def close(self) -> None: ...


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


Run = Callable[[Callable[[bytes], None], threading.Event], int | None]
"""Blocking: runs a task, calls `emit(chunk)` for its output, returns its exit code (None when
it is unknown); returns early once the event is set."""


def task_marker() -> str:
    """A new task's `TASK_MARKER=<random>`, to put in its environment."""
    return f"{TASK_MARKER}={secrets.token_hex(16)}"


async def run_bounded(
    run: Run, *, timeout: float, limit: int, stop: Callable[[], None] = lambda: None
) -> ExecResult:
    """Run a task in a thread of its own, for at most `timeout` seconds, keeping at most `limit`
    bytes of its output; past the time limit the event is set and `stop` ends the task.

    The thread is not one of the loop's workers, so tasks that hang cannot starve draftd;
    one the `stop` could not end is left behind after a short wait, never joined.
    """
    loop = asyncio.get_running_loop()
    output = BoundedOutput(limit)
    finished: asyncio.Future[int | None] = loop.create_future()
    finished.add_done_callback(lambda done: done.cancelled() or done.exception())
    stopping = threading.Event()

    def work() -> None:
        try:
            code: int | BaseException | None = run(output.add, stopping)
        except Exception as error:
            code = error
        with contextlib.suppress(RuntimeError):  # the loop closed: draftd stopped meanwhile
            loop.call_soon_threadsafe(_settle, finished, code)

    threading.Thread(target=work, name="draftd-exec", daemon=True).start()
    try:
        code = await asyncio.wait_for(asyncio.shield(finished), timeout)
    except TimeoutError:
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(stop)
        with contextlib.suppress(Exception, TimeoutError):
            await asyncio.wait_for(asyncio.shield(finished), 2)
        said = f"the task was stopped after {timeout:g} s, its time limit"
        return ExecResult(TIMED_OUT, output.text(said), said)
    finally:
        stopping.set()
    return ExecResult(0 if code is None else code, output.text(""), output.cut_short())


def _settle(future: asyncio.Future[int | None], outcome: int | BaseException | None) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class BoundedOutput:
    """A task's output, bounded: the first half of `limit` bytes, then the newest half.

    Added to from the task's thread, read from the loop's: a lock keeps them apart.
    """

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._half = max(limit // 2, 1)
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        with self._lock:
            self._add(chunk)

    def _add(self, chunk: bytes) -> None:
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        while self._tail_size - len(self._tail[0]) >= self._half:
            self._tail_size -= len(gone := self._tail.popleft())
            self.dropped += len(gone)
        if self._tail_size > self._half:  # cut the oldest chunk to size
            extra = self._tail_size - self._half
            self._tail[0] = self._tail[0][extra:]
            self._tail_size -= extra
            self.dropped += extra

    def cut_short(self) -> str:
        if not self.dropped:
            return ""
        return f"{self.dropped} bytes of the task's output were left out in the middle"

    def text(self, said: str) -> str:
        """The output as text; what was left out, and `said`, as a last line of draftd's."""
        with self._lock:
            head, tail, dropped = bytes(self._head), b"".join(self._tail), self.dropped
        middle = f"\n[draftd: {dropped} bytes left out here]\n" if dropped else ""
        body = head.decode("utf-8", "replace") + middle + tail.decode("utf-8", "replace")
        if said:
            body += ("" if not body or body.endswith("\n") else "\n") + f"[draftd: {said}]\n"
        return body


def answers_http(host: str, port: int, timeout: float = 1) -> bool:
    """Whether an app answers HTTP at host:port; any answer counts: the app is up, whatever
    it says on `/`."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True
