"""Watch an app's folder and redeploy after each burst of changes.

A burst of saves (an editor writing several files, a formatter, a `git
checkout`) becomes one redeploy, `delay` seconds after the last change. A
quiet period up to `config.QUIET_SPENT_BUILDING` is spent building: the deploy starts once
the burst has settled (`SETTLE`) and is told not to deploy before the quiet
period ends (draftd builds meanwhile, and a later change supersedes that build
before it deploys). A longer one is waited out before anything starts. A
change while a deploy runs starts a new one; the older deploy stops being
followed, and draftd supersedes its build, so an older state is never deployed
after a newer one. This module knows nothing of Docker or draftd: it calls the
`deploy` it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pathspec
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from draft import memory
from draft.config import QUIET_SPENT_BUILDING
from draft.errors import DraftError

log = logging.getLogger(__name__)

DRAFTIGNORE = ".draftignore"
ALWAYS_IGNORED = (
    ".git/",
    ".hg/",
    "**/__pycache__/",
    "**/*.swp",
    "**/*.swx",
    "**/*~",
    "**/.#*",
    "**/4913",  # Vim's probe file when it checks it may write a folder
    "**/.DS_Store",
    ".draft/",
)
SETTLE = 0.03
"""Seconds of quiet that always end a burst: one save is several events (truncate, write,
close, or a rename); even with watch_delay = 0 they make one redeploy."""


def ignored_paths(root: Path) -> pathspec.GitIgnoreSpec:
    """What never triggers a redeploy: VCS folders, editor droppings, and `.draftignore`."""
    try:
        lines = (root / DRAFTIGNORE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    try:
        return pathspec.GitIgnoreSpec.from_lines([*ALWAYS_IGNORED, *lines])
    except ValueError:  # an invalid pattern (a trailing backslash): watch without it
        valid = [line for line in lines if _valid_pattern(line)]
        log.warning("%s: ignoring %d invalid patterns", DRAFTIGNORE, len(lines) - len(valid))
        return pathspec.GitIgnoreSpec.from_lines([*ALWAYS_IGNORED, *valid])


def _valid_pattern(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except ValueError:
        return False
    return True


class _Changes(FileSystemEventHandler):
    """Forwards relevant file events to the event loop (watchdog calls from its own thread)."""

    def __init__(
        self, root: Path, loop: asyncio.AbstractEventLoop, mark: Callable[[], None]
    ) -> None:
        self.root = root
        self.loop = loop
        self.mark = mark
        self.ignore = ignored_paths(root)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        for raw in paths:
            if not raw:
                continue
            path = Path(raw.decode() if isinstance(raw, bytes) else raw)
            try:
                relative = path.relative_to(self.root).as_posix()
            except ValueError:
                continue
            if relative in (".", ""):
                continue
            if relative == DRAFTIGNORE:
                self.ignore = ignored_paths(self.root)
            suffix = "/" if event.is_directory else ""
            if not self.ignore.match_file(relative + suffix):
                self.loop.call_soon_threadsafe(self.mark)
                return


async def watch(
    root: Path,
    delay: float,
    deploy: Callable[[float], Awaitable[object]],
    *,
    first: Callable[[], Awaitable[object]] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Run `deploy(not_before)` after every burst of changes under `root`, until cancelled;
    it must not deploy before `not_before` (a `time.monotonic()` time: the quiet period's end).

    `first` runs once the folder is watched, so a change made while it runs is
    not missed: it is deployed right after. A deploy that raises is handed to `on_error`
    (by default logged): it never ends the watch, and is never lost.
    """
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    last_change = 0.0

    def mark() -> None:
        nonlocal last_change
        last_change = time.monotonic()
        changed.set()

    observer = Observer()
    observer.schedule(_Changes(root, loop, mark), str(root), recursive=True)
    observer.start()
    running: asyncio.Task[object] | None = None
    try:
        if first is not None:
            await first()
        quiet = max(delay, SETTLE)
        settle = SETTLE if quiet <= QUIET_SPENT_BUILDING else quiet
        while True:
            await changed.wait()
            while (settle_in := last_change + settle - time.monotonic()) > 0:
                await asyncio.sleep(settle_in)
            changed.clear()
            if running is not None and not running.done():
                running.cancel()  # draftd supersedes its build with the one we start now
            not_before = last_change + quiet
            running = asyncio.create_task(
                _run(functools.partial(deploy, not_before), on_error or _log)
            )
            running.add_done_callback(lambda _: memory.give_back())
    finally:
        if running is not None and not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
        observer.stop()
        await asyncio.to_thread(observer.join, 5)


async def _run(
    deploy: Callable[[], Awaitable[object]], on_error: Callable[[Exception], None]
) -> object:
    try:
        return await deploy()
    except Exception as error:  # a failed deploy is reported; the watch goes on
        on_error(error)
        return None


def _log(error: Exception) -> None:
    log.error("a redeploy failed: %s", error, exc_info=not isinstance(error, DraftError))
