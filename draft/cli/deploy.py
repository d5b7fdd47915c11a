"""`draft up`, `draft logs`, `draft connect`, `draft delete` and `draft status`."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from draft import config, tasks, watch
from draft.cli.output import Output
from draft.client import Deleted, DeploymentJSON, DraftdClient, HistoryEntry, ensure_daemon
from draft.deploy import Status, describe_stages, up
from draft.errors import DraftError

T = TypeVar("T")
KEEP_IMAGES = 3
"""Images of an app `draft delete --prune-images` keeps: as many as draftd keeps by itself."""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    up_parser = commands.add_parser(
        "up",
        parents=[common],
        help="build and deploy the app (and redeploy on changes)",
        description="Build the app's image, push it when a registry is set, deploy it, and print "
        "where it runs. With --watch (or watch = true in draft.toml) redeploy after every change.",
    )
    _path(up_parser)
    _env(up_parser)
    watching = up_parser.add_mutually_exclusive_group()
    watching.add_argument(
        "--watch", dest="watch", action="store_true", default=None, help="redeploy on changes"
    )
    watching.add_argument(
        "--no-watch",
        dest="watch",
        action="store_false",
        help="deploy once, whatever draft.toml says about watching",
    )
    up_parser.add_argument(
        "--target", choices=("auto", "docker", "kubernetes"), help="override draft.toml's target"
    )
    up_parser.set_defaults(run=run_up)

    logs = commands.add_parser(
        "logs",
        parents=[common],
        help="show the app's output, or a build's (draft logs BUILD_ID)",
    )
    logs.add_argument(
        "path",
        nargs="?",
        default=".",
        help="the app (default: .), or a build id (see `draft history`)",
    )
    _env(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep following new lines")
    logs.add_argument("--tail", type=int, default=100, help="lines from the end (default 100)")
    logs.set_defaults(run=run_logs)

    connect = commands.add_parser(
        "connect", parents=[common], help="print a URL on this machine that reaches the app"
    )
    _path(connect)
    _env(connect)
    connect.add_argument("--port", type=int, help="local port for a port-forward (kubernetes)")
    connect.set_defaults(run=run_connect)

    delete = commands.add_parser("delete", parents=[common], help="remove the deployed app")
    _path(delete)
    _env(delete)
    delete.add_argument(
        "--prune-images",
        nargs="?",
        type=int,
        const=KEEP_IMAGES,
        metavar="KEEP",
        help=f"also remove the app's images but the newest KEEP (default {KEEP_IMAGES})",
    )
    delete.set_defaults(run=run_delete)

    history = commands.add_parser(
        "history", parents=[common], help="the app's builds, newest first"
    )
    _path(history)
    _env(history)
    history.set_defaults(run=run_history)

    status = commands.add_parser("status", parents=[common], help="where the app runs now")
    _path(status)
    _env(status)
    status.set_defaults(run=run_status)


def _path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=".", type=Path, help="the app (default: .)")


def _env(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="environment of draft.toml (default: development)")


class StatusPrinter:
    """Build events for people: a progress bar on a terminal, plain lines when piped, NDJSON
    with --output json."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.interactive = self.console.is_terminal and not out.json_mode
        self.bar: Progress | None = None
        self.task: Any = None

    def __call__(self, status: Status) -> None:
        if self.out.json_mode:
            event = {**status.to_json(), "kind": status.kind}
            if status.progress:
                event["progress"] = {"current": status.progress[0], "total": status.progress[1]}
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()
            return
        if status.kind == "progress" and status.progress is not None:
            self._progress(status)
            return
        self._stop_bar()
        if status.kind == "log":
            self.console.print(f"  │ {status.message}", style="dim", markup=False)
        elif status.phase == "failed":
            self.console.print(f"✗ {status.message}", style="bold red", markup=False)
        elif status.phase == "ready":
            timings = f" ({status.timings})" if status.stages else ""
            self.console.print(f"✓ {status.message}{timings}", style="bold green", markup=False)
        else:
            self.console.print(f"• {status.phase}: {status.message}", markup=False)

    def _progress(self, status: Status) -> None:
        assert status.progress is not None
        current, total = status.progress
        if not self.interactive:
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                console=self.console, transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task(status.phase, total=total)
        self.bar.update(self.task, completed=current, total=total, description=status.phase)

    def _stop_bar(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def close(self) -> None:
        self._stop_bar()


def run_up(args: argparse.Namespace, out: Output) -> int:
    root = _app(args.path)
    env = config.load(root, args.env)
    watching = env.watch if args.watch is None else args.watch
    printer = StatusPrinter(out)

    async def once() -> Status:
        return await up(
            root, environment=args.env, trigger="command", target=args.target, on_status=printer
        )

    deployed: list[str | None] = [None]

    async def redeploy(not_before: float) -> Status:
        try:
            result = await up(
                root, environment=args.env, trigger="watch", target=args.target,
                on_status=printer, unchanged_from=deployed[0], not_before=not_before,
            )  # fmt: skip
        except DraftError as error:  # a failed redeploy is shown; the watch goes on
            result = Status(env.name, env.environment, "failed", str(error), "phase", 0)
            printer(result)
        if result.phase == "ready":
            deployed[0] = result.fingerprint
        return result

    def unexpected(error: Exception) -> None:
        message = f"the redeploy failed: {type(error).__name__}: {error}"
        printer(Status(env.name, env.environment, "failed", message, "phase", 0))

    def show(result: Status) -> None:
        if out.json_mode:  # NDJSON: the events, then this line
            sys.stdout.write(json.dumps({**result.to_json(), "kind": "result"}) + "\n")
            sys.stdout.flush()
        elif result.phase == "ready" and result.url:
            out.line(result.url)
            sys.stdout.flush()

    async def first() -> Status:
        result = await once()
        if result.phase == "ready":
            deployed[0] = result.fingerprint
        show(result)
        if watching:
            out.note(f"Watching {root} for changes (Ctrl-C to stop)…")
        return result

    async def main() -> Status:
        if not watching:
            return await first()
        results: list[Status] = []

        async def remember_first() -> None:
            results.append(await first())

        await watch.watch(
            root, env.watch_delay, redeploy, first=remember_first, on_error=unexpected
        )
        return results[0]

    try:
        result = asyncio.run(main())
    finally:
        printer.close()
    if result.phase != "ready":
        raise DraftError(
            f"The deploy of {env.name} failed: {result.message}",
            "Fix what the lines above say and run `draft up` again.",
        )
    return 0


def _app(path: Path) -> Path:
    if not path.is_dir():
        raise DraftError(f"{path} is not a folder.", "Pass the folder of the app.")
    return path.resolve()


def _with_client(
    args: argparse.Namespace, act: Callable[[DraftdClient, config.Environment], Awaitable[T]]
) -> T:
    env = config.load(_app(args.path), args.env)

    async def main() -> T:
        async with await ensure_daemon() as client:
            return await act(client, env)

    return asyncio.run(main())


def run_logs(args: argparse.Namespace, out: Output) -> int:
    if BUILD_ID.fullmatch(str(args.path)) and not Path(args.path).exists():
        return _build_log(str(args.path), out)
    args.path = Path(args.path)

    async def show(client: DraftdClient, env: config.Environment) -> None:
        async for line in client.logs(
            env.name, env.environment, follow=args.follow, tail=args.tail
        ):
            if out.json_mode:
                sys.stdout.write(json.dumps({"line": line}) + "\n")
            else:
                out.line(line)
            sys.stdout.flush()

    _with_client(args, show)
    return 0


BUILD_ID = re.compile(r"b-[0-9a-z]{12}")


def _build_log(build_id: str, out: Output) -> int:
    async def fetch() -> str:
        async with await ensure_daemon() as client:
            return await client.build_log(build_id)

    text = asyncio.run(fetch())
    for line in text.splitlines():
        out.line(line)
    out.result({"buildId": build_id, "log": text})
    return 0


def run_history(args: argparse.Namespace, out: Output) -> int:
    async def history(client: DraftdClient, env: config.Environment) -> list[HistoryEntry]:
        return await client.history(env.name, env.environment)

    builds = _with_client(args, history)
    if not builds:
        out.note("No builds yet: `draft up` makes the first.")
    else:
        out.line(
            f"{'BUILD':<16}{'TAG':<20}{'WHEN':<21}{'TOOK':>8}  {'OUTCOME':<11}{'TRIGGER':<9}STAGES"
        )
    for build in builds:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(build["startedAt"]))
        took = f"{build['durationMs'] / 1000:.1f}s"
        out.line(
            f"{build['buildId']:<16}{build['tag'][:18]:<20}{when:<21}{took:>8}  "
            f"{build['outcome']:<11}{build['trigger']:<9}{describe_stages(build.get('stages', []))}"
        )
    out.result(builds)
    return 0


def run_connect(args: argparse.Namespace, out: Output) -> int:
    async def connect(client: DraftdClient, env: config.Environment) -> str:
        return await client.connect(env.name, env.environment, args.port)

    url = _with_client(args, connect)
    out.line(url)
    out.result({"url": url})
    return 0


def run_delete(args: argparse.Namespace, out: Output) -> int:
    async def delete(client: DraftdClient, env: config.Environment) -> Deleted:
        return await client.delete(env.name, env.environment, args.prune_images)

    answer = _with_client(args, delete)
    deleted = answer["deleted"]
    out.line("Deleted." if deleted else "Nothing was deployed.")
    pruned = answer.get("prunedImages") or []
    if args.prune_images is not None:
        kept = f"kept the newest {args.prune_images}" if args.prune_images else "kept none"
        out.line(f"Removed {len(pruned)} images of the app ({kept}).")
        for name in pruned:
            out.line(f"  removed {name}")
    root = _app(args.path)
    for task in tasks.load(root).cleanup:
        tasks.run_here(task, root, out.line)
    out.result({"deleted": deleted, "prunedImages": pruned})
    return 0


def run_status(args: argparse.Namespace, out: Output) -> int:
    async def status(client: DraftdClient, env: config.Environment) -> DeploymentJSON:
        return await client.app(env.name, env.environment)

    found = _with_client(args, status)
    out.line(
        f"{found.get('app')}/{found.get('environment')} on {found.get('target')}: "
        f"{found.get('state')}" + (f" at {found['url']}" if found.get("url") else "")
    )
    if found.get("detail"):
        out.line(str(found["detail"]))
    out.result(found)
    # "unknown": draftd could not say (its target failed); "failed": the app is not healthy.
    return 0 if found.get("state") in HEALTHY else 1


HEALTHY = ("running", "starting")
