"""One build from upload to a running app: uploading, building, pushing, deploying, ready.

The pipeline knows nothing of Docker or Kubernetes: it drives a `Builder` and a
`DeployTarget`. Whatever goes wrong in one build ends that build as `failed`
with a reason, never the daemon; a superseded build stops where it is, except
that a deploy already under way finishes (holding the app's deploy lock) so the
newer build's deploy always comes after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from draft.errors import DraftError
from draftd.apps import AppRecord, AppRecords
from draftd.blobs import BlobStore
from draftd.builder import Builder
from draftd.builds import Build, BuildRegistry
from draftd.contexts import context_tar, materialize
from draftd.history import BuildHistory
from draftd.model import Deployment, DeployRequest, Image, Phase, Progress
from draftd.ports import container_port
from draftd.targets.base import DeployError, DeployTarget, TargetUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

UPLOAD_TIMEOUT = 15 * 60.0
AVAILABLE_TIMEOUT = 5.0
STOP_GRACE = 10.0


class UploadIncomplete(DraftError):
    """The client never sent some of the files its build needs."""


def image_for(build: Build) -> Image:
    registry = build.spec.settings["registry"].rstrip("/")
    name = build.spec.settings["name"]
    return Image(f"{registry}/{name}" if registry else name, build.tag)


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

    async def run(self, build: Build) -> None:
        """Run `build` to a terminal event; never raises but for cancellation."""
        folder = self.work / build.id
        try:
            await self._run(build, folder)
        except asyncio.CancelledError:
            build.finish(Phase.FAILED, "draftd stopped the build", reason="draftd stopped")
            raise
        except DeployError as error:
            for line in error.logs.splitlines():
                build.log(line)
            build.finish(Phase.FAILED, str(error), reason=str(error))
        except DraftError as error:
            build.finish(Phase.FAILED, str(error), reason=str(error))
        except Exception as error:
            log.exception("build %s of %s failed on a bug", build.id, build.key)
            reason = f"internal error: {type(error).__name__}: {error}"
            build.finish(Phase.FAILED, reason, reason=reason)
        finally:
            if self.history is not None:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(self.history.record, build)
            build.release()
            if build.id not in self._deploys:  # else the deploy removes it when it ends
                await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _run(self, build: Build, folder: Path) -> None:
        await self._wait_for_blobs(build)
        image = image_for(build)
        folder.mkdir(parents=True, exist_ok=True)
        chart_dir = await self._chart(build, folder)
        port = await asyncio.to_thread(container_port, build.spec, chart_dir, self.blobs)
        await self._build(build, image, folder)
        await self._push(build, image)
        target = await self._target(build.spec.settings["target"])
        build.enter(Phase.DEPLOYING, f"deploying to {target.name}", image=image.reference)
        request = DeployRequest(
            key=build.key,
            build_id=build.id,
            image=image,
            settings=build.spec.settings,
            chart_dir=str(chart_dir) if chart_dir else None,
            port=port,
            pushed=bool(build.spec.settings["registry"]),
        )
        deploy = await self._start_deploy(build, target, request, folder)
        if deploy is not None:
            deployment = await asyncio.shield(deploy)
            where = f" at {deployment.url}" if deployment.url else ""
            build.finish(Phase.READY, f"ready{where}", url=deployment.url)

    async def _wait_for_blobs(self, build: Build) -> None:
        """Stay `uploading` until every blob the build needs is stored, counting bytes."""
        files = [*build.spec.files, *(build.spec.chart or ())]
        sizes = {file.digest: file.size for file in files if file.link is None}
        total = sum(sizes.values())
        await asyncio.to_thread(self.blobs.touch, sizes)
        arrivals: asyncio.Queue[str] = asyncio.Queue()
        stop_watching = self.blobs.watch(arrivals.put_nowait)
        try:
            missing = set(await asyncio.to_thread(self.blobs.missing, sizes))
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

    async def _chart(self, build: Build, folder: Path) -> Path | None:
        if build.spec.chart is None:
            return None
        chart_dir = folder / "chart"
        await asyncio.to_thread(materialize, build.spec.chart, self.blobs, chart_dir)
        return chart_dir

    async def _build(self, build: Build, image: Image, folder: Path) -> None:
        settings = build.spec.settings
        build.enter(Phase.BUILDING, f"building {image.reference}", image=image.reference)
        if await self.builder.exists(image):
            build.log(f"image {image.reference} exists; not rebuilt")
        else:
            context = await asyncio.to_thread(context_tar, build.spec.files, self.blobs, folder)
            try:
                await self.builder.build(
                    cast(BinaryIO, context),
                    image,
                    dockerfile=settings["dockerfile"],
                    build_args=settings["image_build_args"],
                    log=on_loop(build.log),
                )
            finally:
                context.close()
        for tag in settings["custom_tags"]:
            await self.builder.tag(image, Image(image.repository, tag))
            build.log(f"tagged {image.repository}:{tag}")

    async def _push(self, build: Build, image: Image) -> None:
        if not build.spec.settings["registry"]:
            return
        build.enter(Phase.PUSHING, f"pushing {image.reference}", image=image.reference)

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
        self, build: Build, target: DeployTarget, request: DeployRequest, folder: Path
    ) -> asyncio.Task[Deployment] | None:
        """Take the app's deploy lock and start the deploy, if `build` is still the newest.

        The deploy runs in its own task that releases the lock when the deploy
        has really ended: cancelling a superseded build cannot let the next
        deploy start while this one still runs in a thread.
        """
        lock = self.builds.deploy_lock(build.key)
        await lock.acquire()
        if not self.builds.claim_deploy(build):
            lock.release()
            build.finish(Phase.SUPERSEDED, "superseded before deploying", reason="superseded")
            return None
        task = asyncio.create_task(self._deploy(build, target, request, lock, folder))
        self._deploys[build.id] = task
        task.add_done_callback(lambda _: self._deploys.pop(build.id, None))
        return task

    async def _deploy(
        self,
        build: Build,
        target: DeployTarget,
        request: DeployRequest,
        lock: asyncio.Lock,
        folder: Path,
    ) -> Deployment:
        try:
            previous = self.apps.get(build.key)
            record = AppRecord(
                build.key.app, build.key.environment, target.name, build.id, request.image.reference
            )
            await asyncio.to_thread(self.apps.save, record)
            deployment = await target.deploy(request, on_loop(build.log))
            await asyncio.to_thread(self.apps.save, replace(record, url=deployment.url))
            if previous is not None and previous.target != target.name:
                await self._retire(build, previous)
            return deployment
        finally:
            lock.release()
            await asyncio.to_thread(shutil.rmtree, folder, True)

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
        """Cancel every build in flight (draftd is stopping); give deploys under way a moment."""
        tasks = [b.task for b in self.builds.running() if b.task is not None]
        for task in tasks:
            task.cancel()
        pending: list[asyncio.Task[Any]] = [*tasks, *self._deploys.values()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


def on_loop(callback: Callable[[T], None]) -> Callable[[T], None]:
    """`callback`, callable from a builder's or target's worker thread too.

    Events touch the event loop's objects, so calls from other threads are
    handed to the loop, in order.
    """
    loop = asyncio.get_running_loop()
    owner = threading.get_ident()

    def call(value: T) -> None:
        if threading.get_ident() == owner:
            callback(value)
        else:
            loop.call_soon_threadsafe(callback, value)

    return call


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
