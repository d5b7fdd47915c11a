"""Where a build's time goes: one stopwatch per build, its stages in the order they ran.

The pipeline starts a `Stopwatch` for each build and makes it the current one of the
build's task (a context variable, so the deploy task and worker threads the build starts
see it too); it starts `upload`, `build`, `push`, `deploy` or `sync` itself, and a target
that can tell "the app is starting" from "the app answers" calls `start("ready")` when it
begins waiting for the answer. The build's terminal event, `draft history` and the editors'
status carry the result (`draftd.wire.StageTiming`).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable

from draftd.wire import Stage, StageTiming


class Stopwatch:
    """The stages of one build: one runs at a time; starting one ends the previous one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._done: list[tuple[Stage, float]] = []
        self._open: tuple[Stage, float] | None = None

    def start(self, stage: Stage) -> None:
        self.stop()
        self._open = (stage, self._clock())

    def stop(self) -> None:
        """End the stage that runs (the build is waiting for something that is no stage)."""
        if self._open is not None:
            stage, began = self._open
            self._done.append((stage, self._clock() - began))
            self._open = None

    def timings(self) -> list[StageTiming]:
        """Each stage's time so far (the one running counts until now); a stage that ran
        twice (a sync that had to build after all) is listed once, at its first place."""
        spans = list(self._done)
        if self._open is not None:
            spans.append((self._open[0], self._clock() - self._open[1]))
        totals: dict[Stage, float] = {}
        for stage, seconds in spans:
            totals[stage] = totals.get(stage, 0.0) + seconds
        return [{"stage": stage, "ms": round(seconds * 1000)} for stage, seconds in totals.items()]


_current: contextvars.ContextVar[Stopwatch | None] = contextvars.ContextVar(
    "draftd_stopwatch", default=None
)


def timing(stopwatch: Stopwatch) -> None:
    """Make `stopwatch` the current build's, in this task and what it starts from now on."""
    _current.set(stopwatch)


def start(stage: Stage) -> None:
    """Start `stage` of the build running here; nothing when no build is timed here."""
    stopwatch = _current.get()
    if stopwatch is not None:
        stopwatch.start(stage)
