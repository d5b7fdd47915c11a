"""One build from upload to a running app: wait for the blobs, then sync, or build, push, deploy.

The pipeline knows nothing of Docker or Kubernetes: it drives a `Builder` and a
`DeployTarget`. Whatever goes wrong in one build ends that build as `failed`
with a reason, never the daemon; a superseded build stops where it is, except
that a deploy already under way finishes (holding the app's deploy lock) so the
newer build's deploy always comes after it.

A save that changes only files the Dockerfile copies last skips the image: when
the app runs where its target's syncer can take them, `draftd.sync` copies them
in and restarts the app there. Any doubt — another file changed, the container
was replaced or stopped, other settings — and the build goes the whole way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from draft import memory
from draft.errors import DraftError
from draftd import stages
from draftd.app_records import AppRecord, AppRecords
from draftd.blobs import BlobStore
from draftd.builder import APP_LABEL, Builder, BuildFailed
from draftd.builds import Build, BuildRegistry
from draftd.buildspec import BuildSpec
from draftd.contexts import context_tar, materialize
from draftd.history import BuildHistory
from draftd.model import Deployment, DeployRequest, Image
from draftd.ports import container_port
from draftd.quiet import WhenQuiet
from draftd.sync.live import LiveSync
from draftd.targets.base import DeployError, DeployTarget, TargetUnavailable
from draftd.threads import on_loop
from draftd.wire import Phase, Progress

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT = 15 * 60.0
AVAILABLE_TIMEOUT = 5.0
STOP_GRACE = 2.0
STOP_LAST_WAIT = 0.5
KEEP_IMAGES = 3
"""Images of an app kept when older ones are pruned (after its deploys, and on delete)."""
PRUNE_QUIET = 5.0
"""Seconds after an app's last deploy before its old images are pruned, put off by each new
build of it: removing images right away slowed the engine's next build by ≈ 0.3 s when
saves came one after another."""


class UploadIncomplete(DraftError):
    """The client never sent some of the files its build needs."""


def _retrieved(task: asyncio.Task[Any]) -> None:
    """Take a task's outcome that nobody awaits (no "exception was never retrieved")."""
    if not task.cancelled():
        task.exception()


def image_for(build: Build) -> Image:
    """The app's own repository (`<registry>/<app>`, or `<app>`) at the build's content tag."""
    registry = build.spec.settings["registry"].rstrip("/")
    name = build.key.app
    return Image(f"{registry}/{name}" if registry else name, build.tag)


@dataclass(frozen=True)
class Deployable:
    """What a build hands to its deploy: the image the target runs (`DeployTarget.derive`),
    and whether saves can sync into it (`DeployRequest.restartable`)."""

    image: Image
    restartable: bool


@dataclass(frozen=True)
class Pipeline:
    blobs: BlobStore
    builder: Builder
    targets: Mapping[str, DeployTarget]
    builds: BuildRegistry
    apps: AppRecords
    work: Path
    """Per-build folders (`<state>/builds/<id>`): the chart and a spilled context tar."""
    upload_timeout: float = UPLOAD_TIMEOUT
    history: BuildHistory | None = None
    """Where ended builds are recorded for `draft history` (kept across restarts)."""
    _deploys: dict[str, asyncio.Task[Deployment]] = field(default_factory=dict)
    """Deploys under way by build id; each outlives its build if that is superseded."""
    sync: LiveSync = field(init=False)
    """The apps saves can be synced into, and syncing one save."""
    _chores: set[asyncio.Task[None]] = field(default_factory=set)
    """Work beside and after builds (Helm's helper, pruning old images), cancelled when
    draftd stops."""
    prune_quiet: float = PRUNE_QUIET
    pruning: WhenQuiet[str] = field(init=False)
    """Per app: its old images' pruning, once the app has had no build for `prune_quiet`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sync", LiveSync(self.blobs))
        object.__setattr__(
            self,
            "pruning",
            WhenQuiet(
                self.prune_quiet, lambda app: self.prune_images(app, KEEP_IMAGES), self._spawn
            ),
        )

    async def run(self, build: Build) -> None:
        """Run `build` to a terminal event; never raises but for cancellation."""
        folder = self.work / build.id
        stopwatch = stages.Stopwatch()
        stages.timing(stopwatch)
        self.pruning.drop(build.key.app)  # waits again once this build is ready
        try:
            if self.history is not None:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(self.history.begin, build)
            await self._run(build, folder, stopwatch)
        except asyncio.CancelledError:
            build.finish(
                Phase.FAILED, "draftd stopped the build", reason="draftd stopped",
                stages=stopwatch.timings(),
            )  # fmt: skip
            raise
        except DeployError as error:
            for line in error.logs.splitlines():
                build.log(line)
            build.finish(Phase.FAILED, str(error), reason=str(error), stages=stopwatch.timings())
        except DraftError as error:
            build.finish(Phase.FAILED, str(error), reason=str(error), stages=stopwatch.timings())
        except Exception as error:
            log.exception("build %s of %s failed on a bug", build.id, build.key)
            reason = f"internal error: {type(error).__name__}: {error}"
            build.finish(Phase.FAILED, reason, reason=reason, stages=stopwatch.timings())
        finally:
            if not build.stages:  # superseded: what it did until then
                build.stages = stopwatch.timings()
            if self.history is not None:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(self.history.record, build)
            build.release()
            if build.id not in self._deploys:  # else the deploy removes it when it ends
                await asyncio.to_thread(shutil.rmtree, folder, True)
            memory.give_back()  # what the build used, to the system

    async def _run(self, build: Build, folder: Path, stopwatch: stages.Stopwatch) -> None:
        # The deploy may outlive the build (superseded meanwhile), whose spec then goes:
        # the work below holds on to it.
        spec = build.spec
        stopwatch.start("upload")
        await self._wait_for_blobs(build)
        stopwatch.stop()
        target = await self._target(spec.settings["target"])
        if await self.sync.ready(build, spec, target):
            work = self._sync_or_build(build, spec, target, folder)
        else:
            self._chore(target.prepare(build.key))
            built = await self._build_and_push(build, spec, target, folder)
            work = self._deploy(build, spec, target, folder, built)
        stopwatch.stop()  # waiting for the app's deploy lock is no stage, nor the hold
        if (held := spec.hold - build.age) > 0:
            # The watcher's quiet period, spent building: a save in it supersedes this build
            # (cancelled here), so a burst of saves is still one deploy.
            try:
                await asyncio.sleep(held)
            except asyncio.CancelledError:
                work.close()
                raise
        deploy = await self._start_deploy(build, work)
        if deploy is not None:
            deployment = await asyncio.shield(deploy)
            stopwatch.stop()
            where = f" at {deployment.url}" if deployment.url else ""
            build.finish(
                Phase.READY, f"ready{where}", url=deployment.url, stages=stopwatch.timings()
            )
            self.pruning.wait(build.key.app)

    async def prune_images(self, app: str, keep: int) -> list[str]:
        """Remove `app`'s images but the newest `keep` (and those in use), as Tilt prunes:
        disk does not grow with every rebuild."""
        in_flight = {image_for(b).reference for b in self.builds.running() if b.key.app == app}
        removed = await self.builder.prune(app, keep, in_flight)
        if removed:
            log.info("removed %d old images of %s: %s", len(removed), app, ", ".join(removed))
        return removed

    def _chore(self, work: Coroutine[Any, Any, object]) -> None:
        """Run `work` on its own, beside the build or after it; `stop` cancels it, a failure
        is logged."""

        async def run() -> None:
            try:
                await work
            except DraftError as error:
                log.warning("%s", error)
            except Exception:
                log.exception("a chore after a build failed on a bug")

        self._spawn(run())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """`work` as a task of its own, which `stop` cancels."""
        task = asyncio.create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)
        return task

    async def _build_and_push(
        self, build: Build, spec: BuildSpec, target: DeployTarget, folder: Path
    ) -> Deployable:
        """Build the image; then push it while the target derives from it the image it runs
        (the kubernetes target's `-sync` image), side by side."""
        image = image_for(build)
        folder.mkdir(parents=True, exist_ok=True)
        await self._build(build, spec, image, folder)
        restartable = await self.sync.restartable(target, spec)
        derived = asyncio.create_task(
            target.derive(
                image,
                restartable=restartable,
                pushed=bool(spec.settings["registry"]),
                report=on_loop(build.log),
            )
        )
        try:
            await self._push(build, image)
        except BaseException:
            derived.cancel()  # its error, if any, is not this build's: the push's is
            derived.add_done_callback(_retrieved)
            raise
        return Deployable(await derived, restartable)

    async def _sync_or_build(
        self, build: Build, spec: BuildSpec, target: DeployTarget, folder: Path
    ) -> Deployment:
        """Under the deploy lock: sync `build` into the app, or build and deploy it after all."""
        stages.start("sync")
        synced = await self.sync.sync(build, spec, target)
        if synced is None:
            self._chore(target.prepare(build.key))
            built = await self._build_and_push(build, spec, target, folder)
            return await self._deploy(build, spec, target, folder, built)
        await self._record(build, target, synced.image, synced.deployment.url)
        return synced.deployment

    async def _wait_for_blobs(self, build: Build) -> None:
        """Stay `uploading` until every blob the build needs is stored, counting bytes."""
        files = [*build.spec.files, *(build.spec.chart or ())]
        sizes = {file.digest: file.size for file in files if file.link is None}
        total = sum(sizes.values())
        arrivals: asyncio.Queue[str] = asyncio.Queue()
        stop_watching = self.blobs.watch(arrivals.put_nowait)
        try:
            missing = set(await asyncio.to_thread(self.blobs.missing, sizes, touch=True))
            build.enter(Phase.UPLOADING, _waiting_for(len(missing), len(sizes)))
            await self._receive(build, missing, sizes, total, arrivals)
        finally:
            stop_watching()

    async def _receive(
        self,
        build: Build,
        missing: set[str],
        sizes: Mapping[str, int],
        total: int,
        arrivals: asyncio.Queue[str],
    ) -> None:
        deadline = asyncio.get_running_loop().time() + self.upload_timeout
        current = total - sum(sizes[digest] for digest in missing)
        while True:
            progress: Progress = {"current": current, "total": total, "unit": "bytes"}
            build.progress(f"{_bytes(current)} of {_bytes(total)} here", progress)
            if not missing:
                return
            try:
                async with asyncio.timeout_at(deadline):
                    digest = await arrivals.get()
                if digest in missing:
                    missing.discard(digest)
                    current += sizes[digest]
            except TimeoutError:
                raise UploadIncomplete(
                    f"The upload did not complete: {len(missing)} files never arrived "
                    f"within {self.upload_timeout / 60:g} minutes.",
                    "Deploy again; the files already sent are kept.",
                ) from None

    async def _chart(self, spec: BuildSpec, folder: Path) -> Path | None:
        if spec.chart is None:
            return None
        chart_dir = folder / "chart"
        await asyncio.to_thread(materialize, spec.chart, self.blobs, chart_dir)
        return chart_dir

    async def _build(self, build: Build, spec: BuildSpec, image: Image, folder: Path) -> None:
        settings = spec.settings
        build.enter(Phase.BUILDING, f"building {image.reference}", image=image.reference)
        stages.start("build")
        if await self.builder.exists(image):
            build.log(f"image {image.reference} exists; not rebuilt")
            await self.builder.adopt(image, {APP_LABEL: build.key.app})
        else:
            context = await asyncio.to_thread(context_tar, spec.files, self.blobs, folder)
            try:
                await self.builder.build(
                    cast(BinaryIO, context),
                    image,
                    dockerfile=settings["dockerfile"],
                    build_args=settings["image_build_args"],
                    labels={APP_LABEL: build.key.app},
                    log=on_loop(build.log),
                )
            finally:
                context.close()
        for tag in settings["custom_tags"]:
            extra = Image(image.repository, tag)
            await self._check_owned(build, extra)
            await self.builder.tag(image, extra)
            build.log(f"tagged {extra.reference}")

    async def _check_owned(self, build: Build, extra: Image) -> None:
        """A custom tag may name a new image or move off one built for this app, nothing else:
        never re-point a base image (`python:3.12-slim`) or another app's."""
        labels = await self.builder.labels(extra)
        if labels is not None and labels.get(APP_LABEL) != build.key.app:
            raise BuildFailed(
                f"draftd will not move the tag {extra.reference}: it names an image that draftd "
                f"did not build for {build.key.app}.",
                "custom_tags may only name tags of the app's own images; remove that tag from "
                "custom_tags, or remove the image it names (an older Draft built images without "
                "the app label).",
            )

    async def _push(self, build: Build, image: Image) -> None:
        if not build.spec.settings["registry"]:
            return
        build.enter(Phase.PUSHING, f"pushing {image.reference}", image=image.reference)
        stages.start("push")

        def pushing(progress: Progress) -> None:
            build.progress(f"pushing {image.reference}", progress)

        report = on_loop(pushing)
        if await self.builder.pushed(image):
            build.log(f"{image.reference} is in the registry already; not pushed again")
        else:
            await self.builder.push(image, report, on_loop(build.log))
        for tag in build.spec.settings["custom_tags"]:
            await self.builder.push(Image(image.repository, tag), report, on_loop(build.log))

    async def _target(self, wanted: str) -> DeployTarget:
        """draft.toml's target; "auto" is kubernetes when a cluster answers, else docker."""
        if wanted == "auto":
            kubernetes = self.targets.get("kubernetes")
            if kubernetes is not None and await answers(kubernetes):
                return kubernetes
            wanted = "docker"
        target = self.targets.get(wanted)
        if target is None:
            raise TargetUnavailable(
                f"This draftd cannot deploy to {wanted}.",
                "Its log says why the target is missing; or set target in draft.toml.",
            )
        return target

    async def _start_deploy(
        self, build: Build, work: Coroutine[Any, Any, Deployment]
    ) -> asyncio.Task[Deployment] | None:
        """Take the app's deploy lock and start `work`, if `build` is still the newest.

        The work runs in its own task that releases the lock when the deploy has
        really ended: cancelling a superseded build cannot let the next deploy
        start while this one still runs in a thread.
        """
        lock = self.builds.deploy_lock(build.key)
        self.builds.queue_deploy(build)
        await lock.acquire()
        if not self.builds.claim_deploy(build):
            lock.release()
            work.close()
            build.finish(Phase.SUPERSEDED, "superseded before deploying", reason="superseded")
            return None
        task = asyncio.create_task(self._holding(lock, work, self.work / build.id))
        self._deploys[build.id] = task
        task.add_done_callback(lambda _: self._deploys.pop(build.id, None))
        return task

    @staticmethod
    async def _holding(
        lock: asyncio.Lock, work: Coroutine[Any, Any, Deployment], folder: Path
    ) -> Deployment:
        try:
            return await work
        finally:
            lock.release()
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _deploy(
        self,
        build: Build,
        spec: BuildSpec,
        target: DeployTarget,
        folder: Path,
        built: Deployable,
    ) -> Deployment:
        """Deploy the image `build` made, holding the app's deploy lock."""
        image = built.image
        build.enter(Phase.DEPLOYING, f"deploying to {target.name}", image=image.reference)
        stages.start("deploy")
        chart_dir = await self._chart(spec, folder)
        port = await asyncio.to_thread(container_port, spec, chart_dir, self.blobs)
        settings = spec.settings
        request = DeployRequest(
            key=build.key,
            build_id=build.id,
            image=image,
            settings=settings,
            chart_dir=str(chart_dir) if chart_dir else None,
            port=port,
            pushed=bool(settings["registry"]),
            restartable=built.restartable,
            superseded=lambda: self.builds.deploy_queued_after(build),
        )
        self.sync.forget(build.key)
        previous = self.apps.get(build.key)
        await self._record(build, target, request.image.reference, None)
        deployment = await target.deploy(request, on_loop(build.log))
        self.sync.deployed(target, spec, deployment, request.image.reference, port)
        await self._record(build, target, request.image.reference, deployment.url)
        if previous is not None and previous.target != target.name:
            await self._retire(build, previous)
        return deployment

    async def _record(
        self, build: Build, target: DeployTarget, image: str, url: str | None
    ) -> None:
        """Keep where the app runs, so status, logs and delete find it after a restart."""
        record = AppRecord(build.key.app, build.key.environment, target.name, build.id, image, url)
        await asyncio.to_thread(self.apps.save, record)

    async def _retire(self, build: Build, previous: AppRecord) -> None:
        """Remove what the app's previous target still runs, now that it runs elsewhere."""
        old = self.targets.get(previous.target)
        if old is None:
            return
        try:
            await old.delete(build.key)
            build.log(f"removed the {previous.target} deployment of {build.key}")
        except DraftError as error:
            build.log(f"could not remove the {previous.target} deployment: {error}")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Cancel every build in flight (draftd is stopping); give deploys under way a moment.

        Bounded whatever the builds do: one still running after `grace` (waiting on a
        stuck worker, say) is cancelled again and left after a short wait.
        """
        tasks = [b.task for b in self.builds.running() if b.task is not None]
        for task in [*tasks, *self._chores]:
            task.cancel()
        pending: list[asyncio.Task[Any]] = [*tasks, *self._deploys.values()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=STOP_LAST_WAIT)


async def answers(target: DeployTarget) -> bool:
    """Whether `target` can deploy now; a slow or broken check counts as no."""
    try:
        return await asyncio.wait_for(target.available(), AVAILABLE_TIMEOUT)
    except TimeoutError:
        return False
    except Exception:
        log.warning("the %s target's availability check failed", target.name, exc_info=True)
        return False


def _waiting_for(missing: int, needed: int) -> str:
    if not missing:
        return f"all {needed} files are here"
    return f"waiting for {missing} of {needed} files"


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count} B"
