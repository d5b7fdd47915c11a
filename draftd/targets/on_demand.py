"""A deploy target whose module is imported the first time it is needed, not when draftd starts.

The kubernetes target carries the `kubernetes` client (≈ 40 MB resident; Helm runs in a
helper process, `draftd.targets.helm_process`): a draftd that only ever deploys to docker
must not hold it. `OnDemandTarget` stands in its place in draftd's targets: its
`available()` answers False without importing anything while the target is not configured
(no kubeconfig), and the first call that needs the real target imports it (in a thread when
the caller is async). When that import fails, the target answers as an absent one would: not
available, and "This draftd cannot deploy to kubernetes." for anything asked of it, with the
reason in draftd's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from draftd.model import AppKey, Deployment, DeployRequest, Image
from draftd.targets.base import DeployTarget, ExecResult, Report, TargetUnavailable

if TYPE_CHECKING:
    from draftd.sync.syncer import Syncer

log = logging.getLogger(__name__)


def default_kubeconfig() -> str | None:
    """The kubeconfig the kubernetes target reads: $KUBECONFIG's first file, else
    ~/.kube/config when it exists."""
    explicit = os.environ.get("KUBECONFIG")
    if explicit:
        return explicit.split(os.pathsep)[0]
    default = Path.home() / ".kube" / "config"
    return str(default) if default.is_file() else None


def kubeconfig_exists() -> bool:
    path = default_kubeconfig()
    return path is not None and Path(path).is_file()


class OnDemandTarget:
    """`module.factory()`, constructed on first use; `configured()` is the cheap check that
    says whether the target could be available at all."""

    def __init__(
        self, name: str, module: str, factory: str, configured: Callable[[], bool]
    ) -> None:
        self.name = name
        self._module = module
        self._factory = factory
        self._configured = configured
        self._target: DeployTarget | None = None
        self._failure: str | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._target is not None

    def _load(self) -> DeployTarget:
        with self._lock:
            if self._target is not None:
                return self._target
            if self._failure is None:
                try:
                    made = getattr(importlib.import_module(self._module), self._factory)()
                    self._target = cast(DeployTarget, made)
                    return self._target
                except Exception as error:
                    self._failure = str(error)
                    log.warning(
                        "deploying to docker only: the %s target is unavailable (%s)",
                        self.name,
                        error,
                    )
            raise TargetUnavailable(
                f"This draftd cannot deploy to {self.name}.",
                "Its log says why the target is missing; or set target in draft.toml.",
            )

    async def _target_now(self) -> DeployTarget:
        if self._target is not None:
            return self._target
        return await asyncio.to_thread(self._load)

    @property
    def syncer(self) -> Syncer | None:
        return self._load().syncer

    async def available(self) -> bool:
        if self._target is None and (self._failure is not None or not self._configured()):
            return False
        try:
            target = await self._target_now()
        except TargetUnavailable:
            return False
        return await target.available()

    async def prepare(self, key: AppKey) -> None:
        with contextlib.suppress(TargetUnavailable):
            await (await self._target_now()).prepare(key)

    async def derive(
        self, image: Image, *, restartable: bool, pushed: bool, report: Report
    ) -> Image:
        target = await self._target_now()
        return await target.derive(image, restartable=restartable, pushed=pushed, report=report)

    async def deploy(self, request: DeployRequest, report: Report) -> Deployment:
        return await (await self._target_now()).deploy(request, report)

    async def status(self, key: AppKey) -> Deployment:
        return await (await self._target_now()).status(key)

    async def logs(self, key: AppKey, *, follow: bool, tail: int) -> AsyncIterator[str]:
        target = await self._target_now()
        async for line in target.logs(key, follow=follow, tail=tail):
            yield line

    async def delete(self, key: AppKey) -> bool:
        return await (await self._target_now()).delete(key)

    async def exec(
        self, key: AppKey, command: list[str], *, timeout: float, limit: int
    ) -> ExecResult:
        return await (await self._target_now()).exec(key, command, timeout=timeout, limit=limit)

    async def connect(self, key: AppKey, local_port: int | None) -> str:
        return await (await self._target_now()).connect(key, local_port)


def kubernetes() -> OnDemandTarget:
    return OnDemandTarget(
        "kubernetes", "draftd.targets.kubernetes", "KubernetesTarget", kubeconfig_exists
    )
