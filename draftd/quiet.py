"""Work that waits for a pause: per key, it runs once the key has been left alone for a
while, and each new start of activity puts it off. draftd keeps heavy engine work (pruning
an app's old images, removing its replaced containers) away from saves that come one after
another, where it slowed the next build and start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from draft.errors import DraftError

log = logging.getLogger(__name__)

K = TypeVar("K")


class WhenQuiet(Generic[K]):
    """`work(key)`, `seconds` after the last `wait(key)`. `spawn` starts the waiting task (its
    owner cancels it when it stops); work that has begun is not put off or cancelled here."""

    def __init__(
        self,
        seconds: float,
        work: Callable[[K], Awaitable[object]],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
    ) -> None:
        self.seconds = seconds
        self._work = work
        self._spawn = spawn
        self._waiting: dict[K, asyncio.Task[None]] = {}

    def wait(self, key: K) -> None:
        """Run the work for `key` after `seconds` from now (the wait starts over)."""
        self.drop(key)
        self._waiting[key] = self._spawn(self._later(key))

    def drop(self, key: K) -> bool:
        """No work for `key` until the next `wait`; whether some was waiting."""
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            waiting.cancel()
        return waiting is not None

    def put_off(self, key: K) -> None:
        """Activity for `key` starts: work waiting for it waits `seconds` from now."""
        if self.drop(key):
            self.wait(key)

    async def _later(self, key: K) -> None:
        await asyncio.sleep(self.seconds)
        self._waiting.pop(key, None)  # under way: no longer put off
        try:
            await self._work(key)
        except DraftError as error:
            log.warning("%s", error)
        except Exception:
            log.exception("work after a pause for %s failed on a bug", key)
