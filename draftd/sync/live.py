"""Live sync's orchestration: which apps a save can sync into, and syncing one save.

After a deploy that ran the app under the restart wrapper (`Deployment.sync_instance`),
`LiveSync` remembers what runs there: the instance, the image, the build context it holds.
A later save of the same app with the same settings and chart asks `ready` (what changed
is copied by the Dockerfile last — `draftd.sync.decision` — and the target's syncer says
the instance still runs), then, holding the app's deploy lock, `sync`: the plan is made
again from what runs now, the files are packed from the blob store and handed to the
target's `Syncer` (`copy`, `restart`). Whenever a save cannot be synced the build's log
says why and the pipeline builds instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from draftd.blobs import BlobStore
from draftd.builds import Build
from draftd.buildspec import BuildSpec
from draftd.contexts import ContextFile, read_file
from draftd.model import AppKey, Deployment
from draftd.sync.decision import NeedsBuild, SyncPlan, SyncRules, plan, rules, sync_archive
from draftd.sync.syncer import SyncRequest, SyncUnavailable
from draftd.targets.base import DeployTarget
from draftd.threads import on_loop
from draftd.wire import BuildSettings, Phase

MAX_DOCKERFILE = 1024 * 1024
MAX_SYNCABLE = 32
"""Apps whose running files draftd remembers so their saves can sync; past that many, the
least recently deployed is let go (its next save builds)."""


@dataclass(frozen=True)
class Running:
    """An app that saves can sync into, and the build context it now holds."""

    target: str
    instance: str
    image: str
    files: tuple[ContextFile, ...]
    chart: tuple[ContextFile, ...] | None
    settings: BuildSettings
    port: int

    def takes(self, spec: BuildSpec) -> bool:
        """Whether a build of `spec` would deploy the same way (same settings and chart)."""
        same = _deploy_settings(self.settings) == _deploy_settings(spec.settings)
        return same and self.chart == spec.chart


@dataclass(frozen=True)
class Synced:
    """A save synced into the app: where it answers, and the image it still runs."""

    deployment: Deployment
    image: str


class LiveSync:
    """The apps saves can be synced into, per app and environment; changed under its deploy
    lock (or before its deploy starts)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._running: dict[AppKey, Running] = {}

    async def restartable(self, target: DeployTarget, spec: BuildSpec) -> bool:
        """Whether to deploy `spec` so that later saves can sync (`DeployRequest.restartable`):
        the target has a syncer, draft.toml's `sync` is on and the Dockerfile copies some file
        a save could sync."""
        if target.syncer is None or not spec.settings["sync"]:
            return False
        return (await self._rules(spec)).any_syncable

    def forget(self, key: AppKey) -> None:
        """What runs for `key` is being replaced: sync nothing into it."""
        self._running.pop(key, None)

    def deployed(
        self,
        target: DeployTarget,
        spec: BuildSpec,
        deployment: Deployment,
        image: str,
        port: int,
    ) -> None:
        """A deploy of `spec` ended with `deployment`: remember it if saves can sync into it."""
        self.forget(deployment.key)
        if deployment.sync_instance:
            while len(self._running) >= MAX_SYNCABLE:  # each holds its manifest: bounded
                del self._running[next(iter(self._running))]
            self._running[deployment.key] = Running(
                target.name, deployment.sync_instance, image, spec.files, spec.chart,
                spec.settings, port,
            )  # fmt: skip

    async def ready(self, build: Build, spec: BuildSpec, target: DeployTarget) -> bool:
        """Whether `build` can probably be synced (`sync` checks again, under the lock)."""
        running = self._running.get(build.key)
        syncer = target.syncer
        if running is None or not spec.settings["sync"] or syncer is None:
            return False
        if running.target != target.name or not running.takes(spec):
            return False
        if await self._plan(build, spec, running) is None:
            return False
        if not await syncer.can_sync(build.key, running.instance):
            build.log("building the image: the app's container was stopped or replaced")
            return False
        return True

    async def sync(self, build: Build, spec: BuildSpec, target: DeployTarget) -> Synced | None:
        """Holding the app's deploy lock: sync `build` into the app; None when it must build.

        The plan is made again from what runs now: while this build waited for the lock, an
        older one may have synced other files or replaced the container.
        """
        now = self._running.get(build.key)
        sync = await self._plan(build, spec, now) if now and now.takes(spec) else None
        syncer = target.syncer
        if now is None or sync is None or syncer is None:
            return None
        build.enter(Phase.DEPLOYING, _syncing(sync), image=now.image)
        archive = await asyncio.to_thread(sync_archive, sync.files, self.blobs)
        wait = spec.settings["wait"]
        request = SyncRequest(
            build.key, build.id, now.instance, archive, len(sync.files), now.port, wait
        )
        report = on_loop(build.log)
        try:
            if request.files:
                await syncer.copy(request, report)
            deployment = await syncer.restart(request, report)
        except SyncUnavailable as gone:
            self.forget(build.key)
            build.log(f"building the image: {gone}")
            return None
        except BaseException:
            self.forget(build.key)
            raise
        self._running[build.key] = replace(now, files=spec.files)
        return Synced(deployment, now.image)

    async def _plan(self, build: Build, spec: BuildSpec, running: Running) -> SyncPlan | None:
        """What to copy into `running` for `spec`; None (and why, in the log) if it must build."""
        dockerfile = spec.settings["dockerfile"]
        try:
            return plan(running.files, spec.files, dockerfile, await self._rules(spec))
        except NeedsBuild as why:
            build.log(f"building the image: {why}")
            return None

    async def _rules(self, spec: BuildSpec) -> SyncRules:
        """What the build's Dockerfile does with the context's files (which could be synced)."""
        text = await asyncio.to_thread(
            read_file, spec.files, spec.settings["dockerfile"], self.blobs, MAX_DOCKERFILE
        )
        return rules(text or b"")


def _deploy_settings(settings: BuildSettings) -> dict[str, object]:
    """The settings that shape what runs (`wait` only changes what a deploy waits for)."""
    return {key: value for key, value in settings.items() if key != "wait"}


def _syncing(sync: SyncPlan) -> str:
    if not sync.files:
        return "no file in the image changed; nothing to deploy"
    names = ", ".join(f.file.path for f in sync.files[:3])
    more = f" and {len(sync.files) - 3} more" if len(sync.files) > 3 else ""
    return f"syncing {names}{more} into the running app (no image build needed)"
