"""Running draftd: options, its state folder, the token, serving until SIGTERM or SIGINT.

On start draftd writes `<state>/draftd.json` ({pid, url, version}) so clients on
this machine find it, and removes it on a clean stop. It always needs a token, on
loopback too: with none given it generates one into `<state>/token` (mode 0600, in
the 0700 state folder), where the `draft` command reads it, and logs where it is,
never the token itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import importlib
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from draft import __version__, memory
from draft.errors import DraftError
from draft.home import draftd_state
from draftd.api import create_app
from draftd.blobs import DEFAULT_MAX_BLOB
from draftd.builder import Builder
from draftd.targets import on_demand
from draftd.targets.base import DeployTarget

log = logging.getLogger("draftd")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7878
INFO_FILE = "draftd.json"
LOCK_FILE = "draftd.lock"
TOKEN_FILE = "token"
IMAGES_FILE = "images.json"
"""The labels draftd gave the images it built (`draftd.docker_builder.LabelRecords`)."""
SHUTDOWN_TIMEOUT = 1.5
"""How long requests still being answered get when draftd stops (the builds' grace comes first)."""
WORKERS = 64
WORKERS_GRACE = 0.5
"""How long stopping waits for worker threads to end before leaving them behind."""
"""Worker threads: builds, pushes, deploys and log streams each hold one while they run, so
more than builds in flight may (`draftd.builds.MAX_IN_FLIGHT`), with room for quick work."""


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    state_dir: Path
    token: str | None
    max_blob: int
    log_level: str


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="draftd", description="Build and deploy Draft apps: the daemon `draft up` talks to."
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (%(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (%(default)s; 0: any)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="blobs, app records, token (default: $DRAFTD_STATE, else draftd/ in $DRAFT_HOME "
        "or the user data folder)",
    )
    parser.add_argument(
        "--token", help="require this bearer token (better: the DRAFTD_TOKEN environment variable)"
    )
    parser.add_argument(
        "--max-blob", type=int, default=DEFAULT_MAX_BLOB, help="largest file accepted, in bytes"
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper
    )
    args = parser.parse_args(argv)
    if args.max_blob < 1:
        parser.error("--max-blob must be at least 1 byte")
    return Options(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir or draftd_state(),
        token=args.token or os.environ.get("DRAFTD_TOKEN") or None,
        max_blob=args.max_blob,
        log_level=args.log_level,
    )


def resolve_token(options: Options) -> str:
    """The token to require: the one given, else `<state>/token`'s (generated once)."""
    if options.token:
        return options.token
    path = options.state_dir / TOKEN_FILE
    with contextlib.suppress(FileNotFoundError):
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            path.chmod(0o600)
            log.info("requiring the token in %s", path)
            return existing
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    log.info("generated a token for clients into %s (mode 0600)", path)
    return token


def real_builder_and_targets(state: Path) -> tuple[Builder, dict[str, DeployTarget]]:
    """The Docker builder (its image records in `state`) and the targets; without a usable
    kubernetes target, docker only."""
    try:
        builder = cast(
            Builder, _construct("draftd.docker_builder", "DockerBuilder", state / IMAGES_FILE)
        )
        docker = cast(DeployTarget, _construct("draftd.targets.docker", "DockerTarget"))
    except ImportError as error:
        raise DraftError(
            f"draftd cannot load its Docker builder: {error}.",
            "Reinstall Draft (pip install draft) so the daemon's modules are complete.",
        ) from error
    # The kubernetes target (and with it the kubernetes client) is imported when an app
    # first needs it: a draftd deploying to docker never holds it.
    return builder, {"docker": docker, "kubernetes": on_demand.kubernetes()}


def _construct(module: str, name: str, *args: Any) -> Any:
    return getattr(importlib.import_module(module), name)(*args)


def local_url(host: str, port: int) -> str:
    """How a client on this machine reaches a daemon bound to `host`."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving `app`; returns the runner (to clean up) and the bound port."""
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, int(bound)


Parts = Callable[[Path], tuple[Builder, dict[str, DeployTarget]]]
"""The builder and targets of a draftd whose state folder is given."""


class _Workers(ThreadPoolExecutor):
    """The loop's worker threads; stopping never waits for them.

    A worker may be stuck in a Docker call or a slow file walk: joining it at exit would
    keep draftd from stopping. Work still queued is dropped, and `main` leaves busy
    workers behind.
    """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


async def run(options: Options, parts: Parts = real_builder_and_targets) -> None:
    """Serve until SIGTERM or SIGINT, with `draftd.json` present exactly while serving."""
    workers = _Workers(max_workers=WORKERS, thread_name_prefix="draftd")
    asyncio.get_running_loop().set_default_executor(workers)
    state = options.state_dir
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    state.chmod(0o700)  # blobs, the token, app records: this user's only, whoever made it
    lock = _lock_state(state)
    try:
        await _serve_state(options, parts)
    finally:
        os.close(lock)


async def _serve_state(options: Options, parts: Parts) -> None:
    state = options.state_dir
    token = resolve_token(options)
    builder, targets = parts(state)
    app = create_app(state, builder, targets, token, host=options.host, max_blob=options.max_blob)
    runner, port = await serve(app, options.host, options.port)
    url = local_url(options.host, port)
    info = state / INFO_FILE
    try:
        _write_info(info, {"pid": os.getpid(), "url": url, "version": __version__})
        log.info(
            "draftd %s listening on %s:%d (state in %s)", __version__, options.host, port, state
        )
        await _until_stopped()
        log.info("stopping")
    finally:
        info.unlink(missing_ok=True)
        await runner.cleanup()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _lock_state(state: Path) -> int:
    """Hold `<state>/draftd.lock` while serving: a second draftd on the same state is refused.

    The kernel lets go of the lock when its holder exits, however it exits, so a stale
    `draftd.json` (its process killed, a zombie, its PID reused) never blocks a restart.
    """
    descriptor = os.open(state / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        try:
            running = json.loads((state / INFO_FILE).read_text(encoding="utf-8"))
            where = f" (pid {int(running['pid'])}, {running['url']})"
        except (OSError, ValueError, KeyError, TypeError):
            where = ""
        raise DraftError(
            f"draftd already runs with this state folder{where}.",
            "Stop it first, or give this one another --state-dir.",
        ) from None
    return descriptor


def _write_info(path: Path, data: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as out:
        json.dump(data, out)
    Path(out.name).chmod(0o644)
    Path(out.name).replace(path)


def main(argv: Sequence[str] | None = None, parts: Parts = real_builder_and_targets) -> int:
    options = parse_args(argv)
    memory.limit_arenas()  # before the worker threads: a process that mostly waits
    logging.basicConfig(
        level=options.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    code = 0
    try:
        asyncio.run(run(options, parts))
    except DraftError as error:
        sys.stderr.write(f"draftd: {error}\n")
        code = 1
    except OSError as error:
        sys.stderr.write(f"draftd: cannot listen on {options.host}:{options.port}: {error}\n")
        code = 1
    return _leave_busy_workers(code)


def _leave_busy_workers(code: int) -> int:
    """`code`, or exit at once when worker threads are still busy: the interpreter would join
    them, and a worker stuck in a Docker call would keep draftd from ever stopping."""
    deadline = time.monotonic() + WORKERS_GRACE
    busy = []
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0))  # idle ones are ending
            if thread.is_alive():
                busy.append(thread)
    if busy:
        log.warning("stopped, leaving %d busy worker threads behind", len(busy))
        logging.shutdown()
        sys.stderr.flush()
        os._exit(code)
    return code
