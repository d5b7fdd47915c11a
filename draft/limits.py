"""One bound on the work of every check of user input: linear in the input's size, then a
diagnostic, never a hang.

Each parser is linear by construction (no recursion on nesting, aliases counted,
regular expressions matched by RE2); what is left — walking a schema against values, a
parser's loops — spends steps from the `Budget` of the check it runs in. A check gets
`BASE_STEPS` plus `STEPS_PER_CHAR` times the size of what it reads, and a wall-clock ceiling as a
safety net; running out raises `TooMuchWork`, which each check turns into one `too-complex`
diagnostic. The language server also hands its checks a cancel event: a check the editor
no longer needs (the text changed again) stops at its next step with `Cancelled`.

The budget lives in a context variable, so code deep inside a check spends it without
being passed it; `asyncio.to_thread` and `contextvars.copy_context` carry it to threads.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from draft.diagnostics import Diagnostic, Range, Severity

BASE_STEPS = 50_000
STEPS_PER_CHAR = 10
SECONDS = 20.0
"""A check that takes longer than this stops, whatever steps it has left: the steps bound
the work, this bounds a slow machine's wait."""
_CHECK_EVERY = 1024


class TooMuchWork(Exception):
    """A check ran out of its budget: the input is too complex to check."""


class Cancelled(Exception):
    """The check's result is no longer wanted (the language server started a newer one)."""


class Budget:
    def __init__(self, steps: int, seconds: float, cancel: threading.Event | None) -> None:
        self.left = steps
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.cancel = cancel
        self._until_check = _CHECK_EVERY

    def allow(self, steps: int) -> None:
        """More to read (a schema besides the values): more steps."""
        self.left += steps

    def step(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            raise TooMuchWork("it needs more work to check than its size allows")
        self._until_check -= steps
        if self._until_check > 0:
            return
        self._until_check = _CHECK_EVERY
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled
        if time.monotonic() > self.deadline:
            raise TooMuchWork(f"checking it took longer than {self.seconds:g} s")


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "draft_budget", default=None
)


def step(steps: int = 1) -> None:
    """Spend from the current check's budget (nothing when no check is bounded)."""
    budget = _current.get()
    if budget is not None:
        budget.step(steps)


def allow(size: int) -> None:
    """The current check reads `size` more characters: its budget grows by as much."""
    budget = _current.get()
    if budget is not None:
        budget.allow(size * STEPS_PER_CHAR)


@contextlib.contextmanager
def bounded(size: int, cancel: threading.Event | None = None) -> Iterator[Budget]:
    """A budget for a check reading `size` characters; inside another check (the language
    server bounds each of its checks), that one's."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    budget = Budget(BASE_STEPS + STEPS_PER_CHAR * size, SECONDS, cancel)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def too_complex(path: Path, error: TooMuchWork | RecursionError) -> Diagnostic:
    """What a check that ran out of its budget (or of Python's stack) reports."""
    reason = str(error) if isinstance(error, TooMuchWork) else "it is nested too deeply"
    return Diagnostic(
        path, Range.of(0, 0), Severity.ERROR, "too-complex",
        f"Draft does not check this file: {reason}",
    )  # fmt: skip
