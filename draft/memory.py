"""Giving memory back while idle, for Draft's long-running processes (draftd, `draft up --watch`).

CPython frees objects into glibc's malloc, which keeps the pages for reuse: after a burst of
work (a build's messages, a chart rendered, a context packed) a process that then waits for
hours stays at its peak. Two things help, both no-ops where the C library is not glibc:

- `limit_arenas`: glibc gives each thread that allocates an arena of its own (up to eight per
  core), and what one arena frees the others cannot reuse. draftd's worker threads make a
  dozen; two are plenty for a process that mostly waits.
- `give_back`: when a piece of work ends (a build, a redeploy), return the free pages at the
  top of each arena to the system (`malloc_trim`).
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8
"""mallopt's parameter for the most arenas (malloc.h)."""


@functools.cache
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
    """Return the free memory at the top of malloc's arenas to the system (a few ms)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(ctypes.c_size_t(0))


def give_back() -> None:
    """`trim` in a worker thread, now that a piece of work has ended; never raises.

    Not later, once idle: the work would then land in the idle time it is meant to save. Not
    `gc.collect()` either: its walk of every object costs tens of ms a time in draftd, and
    CPython's own collections free the cycles a build leaves.
    """
    try:
        future = asyncio.get_running_loop().run_in_executor(None, trim)
    except RuntimeError:  # no loop, or its executor has shut down: the process is ending
        return
    future.add_done_callback(_logged)


def _logged(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.debug("could not give memory back: %s", error)
