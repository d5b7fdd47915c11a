"""One deploy of an app, from its folder to a URL: what `draft up`, watch mode and the language
server's deploy-on-save all run.

The manifest of the build context goes to draftd, which answers with the blobs
it lacks; only those are uploaded; then the build's events are followed to the
end and handed to `on_status` as `Status` values, the shape of the language
server's `draft/status` notification. The request is `draftd.wire.BuildRequest`, the
shape draftd parses: a draft.toml setting draftd needs goes into `build_request`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from draft import config, manifest, tasks, userconfig
from draft.client import ContextChanged, DraftdClient, ensure_daemon
from draft.errors import DraftError
from draftd.wire import (
    MAX_HOLD,
    TERMINAL,
    BuildEventJSON,
    BuildRequest,
    BuildSettings,
    EventKind,
    ManifestEntry,
    StageTiming,
    TargetName,
)
from draftd.wire import Trigger as Trigger  # re-exported for server/deploys.py

CHANGED_RETRIES = 3
"""Times a deploy starts over when a file changes between hashing and upload (a save landing
mid-deploy): the newest text is what gets deployed, or the deploy fails saying why."""


@dataclass(frozen=True)
class Status:
    """One event of a build: a phase change, a log line or progress."""

    app: str
    environment: str
    phase: str
    message: str
    kind: EventKind
    elapsed_ms: int
    url: str | None = None
    build_id: str | None = None
    progress: tuple[int, int] | None = None
    fingerprint: str | None = None
    """What was deployed (a hash of the context, chart and settings), for `unchanged_from`."""
    stages: tuple[StageTiming, ...] = ()
    """Where an ended build's time went, stage by stage (upload, build, push, deploy, …)."""

    @property
    def timings(self) -> str:
        """The stages as people read them: "upload 0.01 s, build 0.52 s, deploy 0.90 s"."""
        return describe_stages(self.stages)

    @property
    def terminal(self) -> bool:
        return self.kind == "phase" and self.phase in TERMINAL

    def to_json(self) -> dict[str, Any]:
        """The `draft/status` notification's fields (camelCase, absent when unknown)."""
        out: dict[str, Any] = {
            "app": self.app,
            "environment": self.environment,
            "phase": self.phase,
            "message": self.message,
            "elapsedMs": self.elapsed_ms,
        }
        if self.url is not None:
            out["url"] = self.url
        if self.build_id is not None:
            out["buildId"] = self.build_id
        if self.stages:
            out["stages"] = list(self.stages)
            out["timings"] = self.timings
        return out


def describe_stages(stages: tuple[StageTiming, ...] | list[StageTiming]) -> str:
    """Stage timings as one line: "upload 0.01 s, build 0.52 s, push 0.13 s, deploy 0.90 s"."""
    return ", ".join(f"{stage['stage']} {stage['ms'] / 1000:.2f} s" for stage in stages)


@dataclass(frozen=True)
class Upload:
    """What one deploy sent: files in the context, blobs the daemon lacked, bytes sent."""

    files: int
    missing: int
    bytes_sent: int


def _ignore(_: Status) -> None:
    return None


def build_request(
    root: Path, env: config.Environment, trigger: Trigger, target: str | None
) -> tuple[BuildRequest, list[manifest.Entry]]:
    """The `POST /v1/builds` body for the app as it is on disk now, and its context's entries."""
    defaults = userconfig.values()  # the user's `draft config`: draft.toml wins where it says
    files = manifest.build_context(root, env.dockerfile)
    chart = manifest.chart_files(root / env.chart)
    wanted = target or (env.target if env.target != "auto" else defaults.get("target", "auto"))
    settings: BuildSettings = {
        "name": env.name,
        "namespace": env.namespace,
        "dockerfile": env.dockerfile,
        "chart": env.chart,
        "registry": env.registry or defaults.get("registry", ""),
        "set": list(env.set),
        "custom_tags": list(env.custom_tags),
        "image_build_args": dict(env.image_build_args or {}),
        "target": cast(TargetName, wanted),  # draftd refuses an unknown one, saying why
        "wait": env.wait,
        "sync": env.sync,
    }
    body: BuildRequest = {
        "app": env.name,
        "environment": env.environment,
        "manifest": [_entry(e) for e in files],
        "chart": [_entry(e) for e in chart],
        "settings": settings,
        "trigger": trigger,
    }
    return body, [*files, *(_in_chart(e, env.chart) for e in chart)]


def _entry(entry: manifest.Entry) -> ManifestEntry:
    out: ManifestEntry = {
        "path": entry.path,
        "digest": entry.digest,
        "size": entry.size,
        "mode": entry.mode,
    }
    if entry.link is not None:
        out["link"] = entry.link
    return out


def _in_chart(entry: manifest.Entry, chart: str) -> manifest.Entry:
    """A chart entry with its path relative to the app, for reading it to upload."""
    return manifest.Entry(f"{chart}/{entry.path}", entry.digest, entry.size, entry.mode, entry.link)


async def up(
    root: Path,
    *,
    environment: str | None = None,
    trigger: Trigger = "command",
    target: str | None = None,
    on_status: Callable[[Status], None] = _ignore,
    daemon_url: str | None = None,
    on_upload: Callable[[Upload], None] | None = None,
    unchanged_from: str | None = None,
    not_before: float | None = None,
) -> Status:
    """Deploy the app in `root` once; the terminal Status (ready with its URL, or failed).

    With `not_before` (a `time.monotonic()` time), draftd builds at once but deploys no
    sooner: watch mode spends its quiet period building (`BuildRequest.holdSeconds`).

    With `unchanged_from` (a previous Status's fingerprint), an app whose context, chart and
    settings are exactly that is not deployed again: the Status says "unchanged". Watch mode
    uses it, so a save without a change — or a pre-up task rewriting the same file — does
    not restart the app.
    """
    root = root.resolve()
    env = await asyncio.to_thread(config.load, root, environment)
    planned = await asyncio.to_thread(tasks.load, root)
    started = time.monotonic()

    def output(line: str) -> None:
        elapsed = int((time.monotonic() - started) * 1000)
        on_status(Status(env.name, env.environment, "queued", line, "log", elapsed))

    loop = asyncio.get_running_loop()

    def say(line: str) -> None:  # from the task's thread to the loop, in order
        loop.call_soon_threadsafe(output, line)

    for task in planned.pre_up:  # before the manifest: what a task writes is uploaded
        await asyncio.to_thread(tasks.run_here, task, root, say)
    body, entries = await asyncio.to_thread(build_request, root, env, trigger, target)
    fingerprint = _fingerprint(body)
    if fingerprint == unchanged_from:
        elapsed = int((time.monotonic() - started) * 1000)
        return Status(env.name, env.environment, "unchanged", "nothing changed", "phase", elapsed,
                      fingerprint=fingerprint)  # fmt: skip
    client = await ensure_daemon(daemon_url)
    async with client:
        for attempt in range(CHANGED_RETRIES + 1):
            try:
                held = _held(body, not_before)
                result = await _follow_build(
                    client, root, env, held, entries, started, on_status, on_upload
                )
                break
            except ContextChanged as changed:
                if attempt == CHANGED_RETRIES:
                    raise
                manifest.forget(root / changed.path)
                output(f"{changed.path} changed while it was uploaded: sending the app again")
                body, entries = await asyncio.to_thread(build_request, root, env, trigger, target)
                fingerprint = _fingerprint(body)
        if result.phase == "ready":
            result = await _post_deploy(client, env, planned.post_deploy, result, output)
        return replace(result, fingerprint=fingerprint)


def _held(body: BuildRequest, not_before: float | None) -> BuildRequest:
    """`body`, asking draftd to deploy no sooner than `not_before` (from now on)."""
    hold = 0.0 if not_before is None else not_before - time.monotonic()
    return {**body, "holdSeconds": round(min(hold, MAX_HOLD), 3)} if hold > 0 else body


def _fingerprint(body: BuildRequest) -> str:
    """The deploy's identity: everything in the request but what triggered it (and when)."""
    content = {k: v for k, v in body.items() if k not in ("trigger", "holdSeconds")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


async def _post_deploy(
    client: DraftdClient,
    env: config.Environment,
    planned: tuple[tasks.Task, ...],
    ready: Status,
    output: Callable[[str], None],
) -> Status:
    """Run the post-deploy tasks inside the app; the first failure fails the deploy."""
    for task in planned:
        output(f"task post-deploy/{task.name}: {' '.join(task.command)}")
        code, text = await client.exec(env.name, env.environment, list(task.command))
        for line in text.splitlines():
            output(line)
        if code != 0:
            message = f"The post-deploy task {task.name} failed with exit code {code}."
            return replace(ready, phase="failed", message=message, url=ready.url)
    return ready


async def _follow_build(
    client: DraftdClient,
    root: Path,
    env: config.Environment,
    body: BuildRequest,
    entries: list[manifest.Entry],
    started: float,
    on_status: Callable[[Status], None],
    on_upload: Callable[[Upload], None] | None,
) -> Status:
    def status(phase: str, message: str, **extra: Any) -> Status:
        elapsed = int((time.monotonic() - started) * 1000)
        return Status(env.name, env.environment, phase, message, "phase", elapsed, **extra)

    on_status(status("queued", "sending the build to draftd"))
    created = await client.create_build(body)
    build_id = str(created["buildId"])
    missing = list(created["missing"])
    sent = await client.upload(root, entries, missing)
    if on_upload is not None:
        on_upload(Upload(len(body["manifest"]), len(missing), sent))
    last: Status | None = None
    async for event in client.events(build_id):
        last = _status(event, env)
        on_status(last)
        if last.terminal:
            return last
    if last is None or not last.terminal:
        raise DraftError(
            f"draftd ended build {build_id} without saying how it ended.",
            "Run `draft status` to see where the app stands.",
        )
    return last


def _status(event: BuildEventJSON, env: config.Environment) -> Status:
    progress = event.get("progress")
    phase = str(event["phase"])
    message = str(event.get("reason") or event.get("message") or "")
    if phase == "failed" and event.get("kind") == "phase":
        message = str(event.get("reason") or event.get("message") or "the build failed")
    return Status(
        app=str(event.get("app", env.name)),
        environment=str(event.get("environment", env.environment)),
        phase=phase,
        message=message,
        kind=event.get("kind", "phase"),
        elapsed_ms=int(event.get("elapsedMs", 0)),
        url=event.get("url"),
        build_id=event.get("buildId"),
        progress=(int(progress["current"]), int(progress["total"])) if progress else None,
        stages=tuple(event.get("stages") or ()),
    )
