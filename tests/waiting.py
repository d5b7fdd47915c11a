"""The one way tests wait: `until(condition, timeout)` checks a condition again and again until
it holds, and fails saying what never happened. `until_async` is the same for async tests
(it lets the event loop run between checks).

Never a fixed sleep to prove that something happened (wait until it did) or did not happen
(wait until something later did, then look). Every wait has a timeout. A sleep that paces
what a test does (keystrokes 20 ms apart, saves spread over two seconds, a browser refreshing
every 10 ms) is no wait, and stays.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
INTERVAL = 0.02
"""Seconds between two checks."""


def until(condition: Callable[[], T], timeout: float, message: str | Callable[[], str] = "") -> T:
    """Block until `condition()` is truthy and return it; after `timeout` seconds fail with
    `message` (or what it returns then), which says what never happened: "draftd did not
    start"."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(timeout, message))
        time.sleep(INTERVAL)
    return result


async def until_async(
    condition: Callable[[], T], timeout: float, message: str | Callable[[], str] = ""
) -> T:
    """`until` in a coroutine: the loop runs between checks (so what it awaits can happen)."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(timeout, message))
        await asyncio.sleep(INTERVAL)
    return result


def _failure(timeout: float, message: str | Callable[[], str]) -> str:
    said = message() if callable(message) else message
    return f"{said or 'the awaited condition never held'} (waited {timeout} s)"
