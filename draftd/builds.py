"""Builds and their event streams; the newest build per app and environment wins.

Each build keeps an ordered list of events (seq from 1) that any number of
clients can replay from a sequence number and then follow, so a reconnecting
client misses nothing. The registry numbers builds per app and environment: a
new build supersedes the one in flight at once, and `claim_deploy` lets only
the newest build deploy, one deploy per key at a time, generations only rising.
"""

from __future__ import annotations

import asyncio
import bisect
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from typing import Any

from draft.errors import DraftError
from draftd.buildspec import BuildSpec
from draftd.model import AppKey, BuildEvent
from draftd.wire import BuildStatusJSON, EventKind, Phase, Progress, StageTiming

MAX_LOG_EVENTS = 5_000
KEEP_PER_KEY = 50
MAX_IN_FLIGHT = 16
"""Builds running at once (each may hold a worker thread and its manifest)."""
MAX_PER_APP = 4
"""Builds of one app running at once, across its environments (one per environment)."""
MAX_FILES_IN_FLIGHT = 400_000
"""Manifest entries the builds in flight hold between them (about 300 bytes each)."""
MAX_KEYS = 256
"""Apps and environments whose builds draftd remembers in memory."""
MAX_KEPT = 1_000
"""Builds remembered in memory across apps (the newest `KEEP_PER_KEY` of each, at most)."""
ENDED_LOG_EVENTS = 200
"""Log and progress events an ended build keeps in memory (its history file has them all)."""
PROGRESS_INTERVAL = 0.25
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: sorts like the time
_last_id = 0


class BuildNotFound(DraftError):
    """No build has that id (or it is so old it was forgotten)."""


class TooBusy(DraftError):
    """draftd already does as much of something as it allows at once (429)."""


def new_build_id() -> str:
    """A unique id that sorts by creation time: "b-" and 12 base32 characters.

    42 bits of milliseconds then 18 random bits; never lower than the last one.
    """
    global _last_id
    value = (int(time.time() * 1000) << 18) | secrets.randbits(18)
    value = _last_id = max(value, _last_id + 1) & (2**60 - 1)
    chars = [_ID_ALPHABET[(value >> shift) & 31] for shift in range(55, -1, -5)]
    return "b-" + "".join(chars)


class EventLog:
    """A build's events by seq, bounded: past `limit` log and progress events the middle goes.

    The first half of the limit stays, then one event saying how many lines were
    left out, then the newest lines; phase events are always kept. Seq numbers
    are never reused, so a resumed stream just skips what is gone.
    """

    def __init__(self, limit: int = MAX_LOG_EVENTS) -> None:
        self._events: list[BuildEvent] = []
        self._limit = limit
        self._droppable = 0
        self._marker: int | None = None
        self._dropped = 0

    def append(self, event: BuildEvent) -> None:
        self._events.append(event)
        if event.kind != "phase":
            self._droppable += 1
        if self._droppable > self._limit:
            self._drop_one()

    def compacted(self, limit: int) -> EventLog:
        """The same events bounded to `limit` log and progress events, the same way."""
        smaller = EventLog(limit)
        if self._marker is not None:  # the marker stands for that many lines, less itself
            smaller._dropped = self._dropped - 1
        for event in self._events:
            smaller.append(event)
        if smaller._marker is None:
            smaller._dropped = 0
        return smaller

    def since(self, seq: int) -> list[BuildEvent]:
        return self._events[bisect.bisect_right(self._events, seq, key=lambda e: e.seq) :]

    def __len__(self) -> int:
        return len(self._events)

    def _drop_one(self) -> None:
        start = self._marker + 1 if self._marker is not None else 0
        skip = 0 if self._marker is not None else self._limit // 2
        for index in range(start, len(self._events)):
            if self._events[index].kind == "phase":
                continue
            if skip:
                skip -= 1
                continue
            self._take(index)
            return

    def _take(self, index: int) -> None:
        gone = self._events[index]
        self._dropped += 1
        self._droppable -= 1
        if self._marker is None:
            self._marker = index
            first = gone
        else:
            first = self._events[self._marker]
            del self._events[index]
        lines = "line" if self._dropped == 1 else "lines"
        message = f"[draftd: {self._dropped} log {lines} left out here to bound memory]"
        self._events[self._marker] = replace(
            first, kind="log", message=message, progress=None, url=None, reason=None, image=None
        )


class Build:
    """One build: its spec, where it is, and its event stream."""

    def __init__(
        self,
        build_id: str,
        spec: BuildSpec,
        generation: int,
        tag: str,
        redact: Callable[[str], str],
        max_log_events: int = MAX_LOG_EVENTS,
    ) -> None:
        self.id = build_id
        self.spec = spec
        self.key = spec.key
        self.generation = generation
        self.tag = tag
        self.phase = Phase.QUEUED
        self.url: str | None = None
        self.reason: str | None = None
        self.stages: list[StageTiming] = []
        """Where its time went (`draftd.stages`), once it has ended."""
        self.task: asyncio.Task[None] | None = None
        self._redact = redact
        self._events = EventLog(max_log_events)
        self._seq = 0
        self._changed = asyncio.Event()
        self._started = time.monotonic()
        self.created = time.time()
        self._last_progress = 0.0
        self.enter(Phase.QUEUED, f"queued ({spec.trigger})")

    @property
    def age(self) -> float:
        """Seconds since the build was requested."""
        return time.monotonic() - self._started

    def enter(self, phase: Phase, message: str, *, image: str | None = None) -> None:
        """Move to a non-terminal phase."""
        assert not phase.terminal, phase
        if self._emit("phase", phase, message, image=image):
            self.phase = phase

    def log(self, message: str) -> None:
        self._emit("log", self.phase, message)

    def progress(self, message: str, progress: Progress) -> None:
        """Report progress, at most a few times a second (and always the last step)."""
        now = time.monotonic()
        done = progress["current"] >= progress["total"]
        if done or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self._emit("progress", self.phase, message, progress=progress)

    def finish(
        self,
        phase: Phase,
        message: str,
        *,
        url: str | None = None,
        reason: str | None = None,
        stages: list[StageTiming] | None = None,
    ) -> bool:
        """End the build with a terminal event; False when it had already ended."""
        assert phase.terminal, phase
        reason = self._redact(reason) if reason is not None else None
        if not self._emit("phase", phase, message, url=url, reason=reason, stages=stages):
            return False
        self.phase, self.url, self.reason = phase, url, reason
        self.stages = stages or []
        return True

    def stop(self, phase: Phase, message: str, reason: str) -> bool:
        """End the build now (superseded or cancelled) and cancel its work."""
        ended = self.finish(phase, message, reason=reason)
        if ended and self.task is not None:
            self.task.cancel()
        return ended

    def release(self) -> None:
        """Once the build's work is over, drop its manifest and all but `ENDED_LOG_EVENTS` of
        its log events (its history file keeps them): the kept builds add up."""
        self.spec = replace(self.spec, files=(), chart=None)
        self._events = self._events.compacted(ENDED_LOG_EVENTS)

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run the build's work in a task, let go of once done: a cancelled task keeps its
        traceback, and with it every frame's locals, the whole manifest among them."""
        self.task = asyncio.create_task(work, name=f"build {self.id}")

        def done(task: asyncio.Task[None]) -> None:
            if self.task is task:
                self.task = None

        self.task.add_done_callback(done)

    @property
    def files(self) -> int:
        """How many manifest entries the build holds (none once released)."""
        return len(self.spec.files) + len(self.spec.chart or ())

    @property
    def ended(self) -> bool:
        return self.phase.terminal

    @property
    def trigger(self) -> str:
        return self.spec.trigger

    @property
    def elapsed_ms(self) -> int:
        """Time since the build was queued (its duration, once it has ended)."""
        events = self._events.since(0)
        end = events[-1].time if events and self.ended else time.time()
        return int((end - self.created) * 1000)

    def log_lines(self) -> list[str]:
        """The build's output as people read it: phase changes and log lines, redacted."""
        return [
            f"[{e.phase.value}] {e.message}" if e.kind == "phase" else e.message
            for e in self._events.since(0)
            if e.kind != "progress"
        ]

    def _emit(
        self,
        kind: EventKind,
        phase: Phase,
        message: str,
        *,
        progress: Progress | None = None,
        url: str | None = None,
        reason: str | None = None,
        image: str | None = None,
        stages: list[StageTiming] | None = None,
    ) -> bool:
        if self.phase.terminal:
            return False
        self._seq += 1
        event = BuildEvent(
            seq=self._seq,
            build_id=self.id,
            app=self.key.app,
            environment=self.key.environment,
            kind=kind,
            phase=phase,
            message=self._redact(message),
            elapsed_ms=int((time.monotonic() - self._started) * 1000),
            time=time.time(),
            progress=progress,
            url=url,
            reason=reason,
            image=image,
            stages=stages or None,
        )
        self._events.append(event)
        self._changed.set()
        self._changed = asyncio.Event()
        return True

    async def events(self, after: int = 0) -> AsyncIterator[BuildEvent]:
        """Events with seq > `after`, then new ones as they come, until the terminal one."""
        seen = after
        while True:
            changed = self._changed
            batch = self._events.since(seen)
            for event in batch:
                seen = event.seq
                yield event
            if batch:
                continue
            if self.phase.terminal:
                return
            await changed.wait()

    def status(self) -> BuildStatusJSON:
        out: BuildStatusJSON = {
            "buildId": self.id,
            "app": self.key.app,
            "environment": self.key.environment,
            "phase": self.phase.value,
            "tag": self.tag,
        }
        if self.url is not None:
            out["url"] = self.url
        if self.reason is not None:
            out["reason"] = self.reason
        if self.stages:
            out["stages"] = self.stages
        return out


class BuildRegistry:
    """Every recent build by id; the newest per key; who may deploy; what is in flight.

    Bounded: at most `max_in_flight` builds run at once (`max_per_app` of one app, across
    its environments), holding at most `max_files` manifest entries between them, and
    at most `max_keys` apps and environments are remembered (the least recently built
    idle one is forgotten first). Past a bound a new build is `TooBusy` (429).
    """

    def __init__(
        self,
        keep_per_key: int = KEEP_PER_KEY,
        max_log_events: int = MAX_LOG_EVENTS,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        max_per_app: int = MAX_PER_APP,
        max_files: int = MAX_FILES_IN_FLIGHT,
        max_keys: int = MAX_KEYS,
        max_kept: int = MAX_KEPT,
    ) -> None:
        self._keep = keep_per_key
        self._max_log_events = max_log_events
        self._max_in_flight = max_in_flight
        self._max_per_app = max_per_app
        self._max_files = max_files
        self._max_keys = max_keys
        self._max_kept = max_kept
        self._by_id: dict[str, Build] = {}
        self._history: dict[AppKey, deque[Build]] = {}
        """Per key, its kept builds; keys in the order they last started a build."""
        self._live: set[Build] = set()
        self._generation: dict[AppKey, int] = {}
        self._deployed: dict[AppKey, int] = {}
        self._queued: dict[AppKey, int] = {}
        self._locks: dict[AppKey, asyncio.Lock] = {}

    def start(self, spec: BuildSpec, tag: str, redact: Callable[[str], str]) -> Build:
        """Register a new build for its key, superseding the one in flight there."""
        key = spec.key
        self._check_room(spec)
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation
        build = Build(new_build_id(), spec, generation, tag, redact, self._max_log_events)
        history = self._history.pop(key, None) or deque()
        self._history[key] = history  # now the most recently built key
        for older in history:
            older.stop(
                Phase.SUPERSEDED,
                f"superseded by build {build.id}",
                f"a newer build ({build.id}) of {key} took over",
            )
        history.append(build)
        self._by_id[build.id] = build
        self._live.add(build)
        while len(history) > self._keep and history[0].ended:
            del self._by_id[history.popleft().id]
        self._forget_oldest_builds()
        self._forget_idle_keys()
        return build

    def _forget_oldest_builds(self) -> None:
        """Forget the oldest ended builds past `max_kept`, whatever their app."""
        excess = len(self._by_id) - self._max_kept
        if excess <= 0:
            return
        for build in list(self._by_id.values()):
            if excess <= 0:
                return
            if build.ended:
                del self._by_id[build.id]
                self._history[build.key].remove(build)
                excess -= 1

    def _check_room(self, spec: BuildSpec) -> None:
        """`TooBusy` unless `spec` fits once the build it supersedes has stopped."""
        live = [b for b in self.running() if b.key != spec.key]
        if len(live) >= self._max_in_flight:
            raise TooBusy(
                f"draftd already runs {len(live)} builds, as many as it takes at once.",
                "Wait for one to end, then deploy again.",
            )
        of_app = sum(1 for b in live if b.key.app == spec.key.app)
        if of_app >= self._max_per_app:
            raise TooBusy(
                f"draftd already runs {of_app} builds of {spec.key.app}, in other "
                "environments: as many as it takes of one app.",
                "Wait for one to end, then deploy again.",
            )
        files = sum(b.files for b in live) + len(spec.files) + len(spec.chart or ())
        if files > self._max_files:
            raise TooBusy(
                f"The builds in flight would hold {files} files, more than the "
                f"{self._max_files} draftd keeps at once.",
                "Wait for a build to end, then deploy again.",
            )

    def _forget_idle_keys(self) -> None:
        """Forget the least recently built keys past `max_keys` that have nothing in flight."""
        excess = len(self._history) - self._max_keys
        if excess <= 0:
            return
        busy = {b.key for b in self._live}
        for key in list(self._history):
            if excess <= 0:
                break
            lock = self._locks.get(key)
            if key in busy or (lock is not None and lock.locked()):
                continue
            for build in self._history.pop(key):
                self._by_id.pop(build.id, None)
            for table in (self._generation, self._deployed, self._queued, self._locks):
                table.pop(key, None)
            excess -= 1

    def get(self, build_id: str) -> Build:
        build = self._by_id.get(build_id)
        if build is None:
            raise BuildNotFound(
                f"There is no build {build_id!r}.",
                f"Builds are kept for the last {self._keep} deploys of each app, "
                "until draftd restarts.",
            )
        return build

    def is_newest(self, build: Build) -> bool:
        return self._generation.get(build.key) == build.generation and not build.ended

    def deploy_lock(self, key: AppKey) -> asyncio.Lock:
        """One deploy at a time per app and environment."""
        return self._locks.setdefault(key, asyncio.Lock())

    def queue_deploy(self, build: Build) -> None:
        """`build` is built and waits for the deploy lock."""
        self._queued[build.key] = max(self._queued.get(build.key, 0), build.generation)

    def deploy_queued_after(self, build: Build) -> bool:
        """Whether a build newer than `build` waits to deploy (the one running may then stop
        waiting for its rollout: the newer deploy replaces it)."""
        return self._queued.get(build.key, 0) > build.generation

    def claim_deploy(self, build: Build) -> bool:
        """Whether `build` may deploy now; call holding `deploy_lock(build.key)`.

        Only the newest live build may, and never one older than a build that
        already deployed: generations only rise.
        """
        if not self.is_newest(build) or build.generation <= self._deployed.get(build.key, 0):
            return False
        self._deployed[build.key] = build.generation
        return True

    def running(self) -> list[Build]:
        """The builds in flight (not ended)."""
        self._live = {build for build in self._live if not build.ended}
        return list(self._live)
