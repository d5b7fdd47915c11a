"""Giving memory back while idle, for Draft's long-running processes (draftd, `draft up --watch`).

CPython frees objects into glibc's malloc, which keeps the pages for reuse: after a burst of
work (a build's messages, a chart rendered, a context packed) a process that then idles for
hours stays at its peak. Two things help, both no-ops where the C library is not glibc:

- `limit_arenas`: glibc gives each thread that allocates an arena of its own (up to eight per
  core), and what one arena frees the others cannot reuse. draftd's worker threads make a
  dozen; two are plenty for a process that mostly waits.
- `IdleTrim`: once the work has been quiet for a while, collect garbage and return the free
  pages at the top of each arena to the system (`malloc_trim`).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8
"""mallopt's parameter for the most arenas (malloc.h)."""
IDLE_AFTER = 10.0
"""Seconds of quiet after the last piece of work before memory is given back."""


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(count: int = 2) -> None:
    """At most `count` malloc arenas; call before the process starts threads."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(count))


def trim() -> None:
    """Collect garbage, then return the free memory malloc holds to the system."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(ctypes.c_size_t(0))


class IdleTrim:
    """`trim` once `after` seconds have passed since the last `touch` (work that just ended)."""

    def __init__(self, after: float = IDLE_AFTER) -> None:
        self.after = after
        self._pending: asyncio.TimerHandle | None = None

    def touch(self) -> None:
        """Work just ended: trim after the quiet period, unless more work ends before."""
        if self._pending is not None:
            self._pending.cancel()
        self._pending = asyncio.get_running_loop().call_later(self.after, self._trim)

    def _trim(self) -> None:
        self._pending = None
        try:
            trim()
        except (OSError, ValueError) as error:  # never worth more than a line in the log
            log.debug("could not give memory back: %s", error)
