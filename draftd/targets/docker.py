"""The `docker` target: the app as one container on the local Docker engine.

One container per app and environment, named `draft-<app>-<env>` and labelled
so draftd finds it again after a restart. Its port is published on 127.0.0.1
at a host port chosen on the first deploy and kept for every later one, so the
URL a developer has open keeps working across redeploys. A redeploy stops the
old container before the new one takes the port (two cannot bind it), then
waits until the app answers HTTP; an app that exits or never answers is a
`DeployError` carrying its last log lines.

An app whose saves can be synced (`DeployRequest.restartable`) runs under the
restart wrapper (`draftd.sync.syncer.wrapper_script`), a small POSIX shell script
given to the container's `/bin/sh -c`: its `DockerSyncer` copies the changed files in
and sends the wrapper SIGHUP, which restarts the app's command in place, so a save
costs the app's start-up time and nothing else. Images without /bin/sh run as they
are, and their saves build the image.

A redeploy is on the critical path of every save that builds, so its engine calls
overlap where they can: the old container is stopped while the new one is checked
for /bin/sh, and the wrapper travels in the container's command, not as a copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from draftd import stages
from draftd.engine import connect, engine_unavailable, has_file
from draftd.model import AppKey, Deployment, DeployRequest
from draftd.sync.syncer import SyncRequest, SyncUnavailable, wrapper_script
from draftd.targets.base import (
    DeployError,
    ExecResult,
    Report,
    TargetUnavailable,
    answers_http,
    lines_from_thread,
    run_bounded,
)

LABEL_MANAGED = "sh.draft.managed"
LABEL_APP = "sh.draft.app"
LABEL_ENV = "sh.draft.environment"
LABEL_BUILD = "sh.draft.build-id"
LABEL_PORT = "sh.draft.host-port"
LABEL_SYNC = "sh.draft.sync"
READY_TIMEOUT = 60.0
ENGINE_TIMEOUT = 120
STOP_TIMEOUT = 3
LOG_LINES = 20
_WRAPPER_SCRIPT = "\n".join(
    line for line in wrapper_script().decode().splitlines() if not line.lstrip().startswith("#")
)
"""The restart wrapper as `sh -c` runs it (the image's command is its "$@"), comments left out."""


def container_name(key: AppKey) -> str:
    return f"draft-{key.app}-{key.environment}"


class DockerTarget:
    name = "docker"

    def __init__(self, ready_timeout: float = READY_TIMEOUT) -> None:
        self.ready_timeout = ready_timeout
        self.syncer = DockerSyncer(self)
        self._client: docker.DockerClient | None = None

    def _engine(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect(ENGINE_TIMEOUT)
        return self._client

    async def available(self) -> bool:
        def ping() -> bool:
            try:
                self._engine()
            except TargetUnavailable:
                return False
            return True

        return await asyncio.to_thread(ping)

    async def prepare(self, key: AppKey) -> None:
        """Nothing to make ready: the engine is connected once, when first used."""

    async def deploy(self, request: DeployRequest, report: Report) -> Deployment:
        container, url = await asyncio.to_thread(self._replace, request, report)
        if request.settings["wait"]:
            report(f"waiting for the app to answer at {url}")
            stages.start("ready")
            await self._wait_ready(container, url, request.port)
            report(f"the app answers at {url}")
        synced = container.labels.get(LABEL_SYNC) == "true"
        return Deployment(
            request.key,
            self.name,
            url,
            request.image.reference,
            request.build_id,
            "running",
            sync_instance=(container.id or None) if synced else None,
        )

    def _replace(self, request: DeployRequest, report: Report) -> tuple[Container, str]:
        """Create the new container, stop the old one, start the new one on the same port.

        Creating first and removing the old container's leftovers after the new one
        runs keeps the moment the port is free as short as the engine allows.
        """
        name = container_name(request.key)
        old = self._find(request.key)
        host_port = _kept_port(old) or _free_port()
        killed = False
        stopping: threading.Thread | None = None
        try:
            if old is not None:
                old.rename(f"{name}-old-{int(time.time() * 1000)}")
            labels = {
                LABEL_MANAGED: "true",
                LABEL_APP: request.key.app,
                LABEL_ENV: request.key.environment,
                LABEL_BUILD: request.build_id,
                LABEL_PORT: str(host_port),
            }
            settings: dict[str, Any] = {
                "name": name,
                "detach": True,
                "environment": {"PORT": str(request.port)},
                "ports": {f"{request.port}/tcp": ("127.0.0.1", host_port)},
                "labels": labels,
            }
            container = None
            if request.restartable:
                container = self._create_restartable(request, settings)
            if old is not None:
                # The old container lets go of the port while the new one is made ready.
                report(f"stopping the previous container of {request.key}")
                killed = True
                stopping = threading.Thread(target=_kill, args=(old,), daemon=True)
                stopping.start()
            container = self._runnable(request, settings, container, report)
            if stopping is not None:
                stopping.join()
            report(f"starting {name} from {request.image.reference} on 127.0.0.1:{host_port}")
            container.start()
        except docker.errors.APIError as error:
            raise DeployError(
                f"Docker could not start {name}: {error.explanation or error}",
                "Another program may hold its port: `draft delete`, then `draft up` picks another.",
            ) from error
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error
        finally:
            if old is not None and killed:
                threading.Thread(target=_remove, args=(old,), daemon=True).start()
            elif old is not None:  # the new one never got going: the old one keeps serving
                with contextlib.suppress(docker.errors.DockerException, OSError):
                    old.rename(name)
        return container, f"http://127.0.0.1:{host_port}"

    def _create_restartable(
        self, request: DeployRequest, settings: dict[str, Any]
    ) -> Container | None:
        """A container running the image's command under the restart wrapper (checked for
        /bin/sh by `_runnable`), or None when the image has no command of its own."""
        engine = self._engine()
        config = engine.images.get(request.image.reference).attrs.get("Config") or {}
        command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        if not command:
            return None
        labels = {**settings["labels"], LABEL_SYNC: "true"}
        return engine.containers.create(
            request.image.reference,
            **{**settings, "labels": labels},
            entrypoint=["/bin/sh", "-c", _WRAPPER_SCRIPT, "draft-restart"],
            command=command,
        )

    def _runnable(
        self,
        request: DeployRequest,
        settings: dict[str, Any],
        restartable: Container | None,
        report: Report,
    ) -> Container:
        """`restartable` when its image has /bin/sh for the wrapper, else a container
        running the image as it is."""
        if restartable is not None:
            if has_file(restartable, "/bin/sh"):
                return restartable
            report("the image has no /bin/sh: saves rebuild the image (no file sync)")
            restartable.remove(force=True)
        return self._engine().containers.create(request.image.reference, **settings)

    async def _wait_ready(
        self, container: Container, url: str, port: int, interval: float = 0.02
    ) -> None:
        deadline = time.monotonic() + self.ready_timeout
        host_port = int(url.rsplit(":", 1)[1])
        while time.monotonic() < deadline:
            state = await asyncio.to_thread(_state, container)
            if state.get("Status") in ("exited", "dead"):
                code = state.get("ExitCode")
                raise DeployError(
                    f"The app's container exited with code {code} before it answered.",
                    "Its last log lines are above; fix the app and save again.",
                    logs=await asyncio.to_thread(_tail, container),
                )
            # On Linux the container's bridge address is reachable: asking the app there
            # skips docker-proxy, which is slow to notice a backend that just started.
            address = _address(container) if sys.platform == "linux" else None
            where = (address, port) if address else ("127.0.0.1", host_port)
            if await asyncio.to_thread(answers_http, *where):
                return
            await asyncio.sleep(interval)
        raise DeployError(
            f"The app did not answer on port {port} within {self.ready_timeout:.0f} s.",
            f"Check that it listens on 0.0.0.0:{port} (the port the chart and Dockerfile name).",
            logs=await asyncio.to_thread(_tail, container),
        )

    def _find(self, key: AppKey) -> Container | None:
        try:
            return self._engine().containers.get(container_name(key))
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error

    async def status(self, key: AppKey) -> Deployment:
        container = await asyncio.to_thread(self._find, key)
        if container is None:
            return Deployment(key, self.name, None, None, None, "absent")
        state = await asyncio.to_thread(_state, container)
        labels = container.labels
        port = labels.get(LABEL_PORT)
        running = state.get("Status") == "running"
        return Deployment(
            key,
            self.name,
            f"http://127.0.0.1:{port}" if port else None,
            ",".join(container.image.tags) if container.image else None,
            self._build_of(key, container),
            "running" if running else "failed",
            detail="" if running else f"the container is {state.get('Status')}",
        )

    def _build_of(self, key: AppKey, container: Container) -> str | None:
        """The build whose files `container` runs: the last synced, else the one it came from."""
        return self.syncer.build_in(key, container) or container.labels.get(LABEL_BUILD)

    async def logs(self, key: AppKey, *, follow: bool, tail: int) -> AsyncIterator[str]:
        container = await asyncio.to_thread(self._find, key)
        if container is None:
            return
        stream = container.logs(stream=True, follow=follow, tail=tail)

        def produce(emit: Callable[[str], None], stop: threading.Event) -> None:
            for line in _split_lines(stream):
                emit(line)

        quiet = (docker.errors.DockerException, OSError, ValueError)
        async for line in lines_from_thread(produce, quiet=quiet, close=stream.close):
            yield line

    async def delete(self, key: AppKey) -> bool:
        def remove() -> bool:
            container = self._find(key)
            if container is None:
                return False
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
            return True

        return await asyncio.to_thread(remove)

    async def exec(
        self, key: AppKey, command: list[str], *, timeout: float, limit: int
    ) -> ExecResult:
        """`docker exec` in the app's container, bounded (`run_bounded`); a task past its time
        limit is killed (when draftd may signal the engine's processes) and its stream closed."""
        api = self._engine().api

        def start() -> tuple[str, Any]:
            container = self._find(key)
            if container is None:
                raise DeployError(f"{key} is not running on Docker.", "Run `draft up` first.")
            try:
                created = api.exec_create(container.id, command, stdout=True, stderr=True)
                return str(created["Id"]), api.exec_start(created["Id"], stream=True)
            except docker.errors.APIError as error:
                raise DeployError(f"Docker could not run {command[0]} in {key}: {error}") from error

        exec_id, stream = await asyncio.to_thread(start)

        def run(emit: Callable[[bytes], None], stop: threading.Event) -> int | None:
            with contextlib.suppress(docker.errors.DockerException, OSError, ValueError):
                for chunk in stream:
                    emit(chunk)
            for _ in range(50):  # the engine may take a moment to record the exit
                found = api.exec_inspect(exec_id)
                if not found.get("Running") or stop.is_set():
                    return found.get("ExitCode")
                time.sleep(0.02)
            return None

        def stop() -> None:
            pid = api.exec_inspect(exec_id).get("Pid")
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
            stream.close()

        return await run_bounded(run, timeout=timeout, limit=limit, stop=stop)

    async def connect(self, key: AppKey, local_port: int | None) -> str:
        deployment = await self.status(key)
        if deployment.url is None:
            raise DeployError(f"{key} is not deployed on Docker.", "Run `draft up` first.")
        return deployment.url


class DockerSyncer:
    """Saves into the docker target's restartable containers (`draftd.sync.syncer.Syncer`):
    `docker cp` of the files' tar, then SIGHUP to the restart wrapper, the container's PID 1."""

    def __init__(self, target: DockerTarget) -> None:
        self._target = target
        self._synced: dict[AppKey, tuple[str, str]] = {}
        """Per app: the container synced into, and the build whose files it last took."""

    def build_in(self, key: AppKey, container: Container) -> str | None:
        """The build last synced into `container`, if any (its label names the one it ran)."""
        synced, build = self._synced.get(key, ("", ""))
        return build if synced == container.id else None

    async def can_sync(self, key: AppKey, instance: str) -> bool:
        def check() -> bool:
            found = self._target._find(key)
            if found is None or found.id != instance or found.labels.get(LABEL_SYNC) != "true":
                return False
            return found.status == "running"

        return await asyncio.to_thread(check)

    async def copy(self, request: SyncRequest, report: Report) -> None:
        name = container_name(request.key)

        def put() -> None:
            container = self._container(request)
            with _sync_errors(container, name, "copy the changed files into"):
                container.put_archive("/", request.archive)
            report(f"copied {_files(request.files)} into {name}")

        await asyncio.to_thread(put)

    async def restart(self, request: SyncRequest, report: Report) -> Deployment:
        name = container_name(request.key)

        def signal() -> Container:
            container = self._container(request)
            if request.files:
                with _sync_errors(container, name, "restart the app in"):
                    container.kill(signal="SIGHUP")
                report("restarting the app in its container")
            return container

        container = await asyncio.to_thread(signal)
        url = f"http://127.0.0.1:{container.labels.get(LABEL_PORT)}"
        if request.files and request.wait:
            stages.start("ready")
            await self._wait_restarted(container, url, request.port)
            report(f"the app answers at {url}")
        self._synced[request.key] = (request.instance, request.build_id)
        image = ",".join(container.image.tags) if container.image else None
        return Deployment(
            request.key, self._target.name, url, image, request.build_id, "running",
            sync_instance=request.instance,
        )  # fmt: skip

    def _container(self, request: SyncRequest) -> Container:
        container = self._target._find(request.key)
        if container is None or container.id != request.instance:
            name = container_name(request.key)
            raise SyncUnavailable(f"{name} is not the container Draft started any more")
        return container

    async def _wait_restarted(self, container: Container, url: str, port: int) -> None:
        """Wait until the app's old process has let go of its port, then for the new one."""
        address = _address(container)
        where = (address, port) if address else ("127.0.0.1", int(url.rsplit(":", 1)[1]))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and await asyncio.to_thread(answers_http, *where):
            await asyncio.sleep(0.005)
        await self._target._wait_ready(container, url, port, interval=0.01)


@contextlib.contextmanager
def _sync_errors(container: Container, name: str, doing: str) -> Iterator[None]:
    """The engine's errors as a sync's: a container gone or stopped builds instead."""
    try:
        yield
    except docker.errors.NotFound as error:
        raise SyncUnavailable(f"{name} is gone") from error
    except docker.errors.APIError as error:
        if not _state(container).get("Running"):
            raise SyncUnavailable(f"{name} is not running") from error
        raise DeployError(
            f"Docker could not {doing} {name}: {error.explanation or error}",
            "Save again; run `draft delete` then `draft up` if this persists.",
        ) from error


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def _kill(container: Container) -> None:
    with contextlib.suppress(docker.errors.DockerException, OSError):
        container.kill()


def _remove(container: Container) -> None:
    with contextlib.suppress(docker.errors.DockerException, OSError):
        container.remove(force=True)


def _kept_port(container: Container | None) -> int | None:
    if container is None:
        return None
    value = container.labels.get(LABEL_PORT, "")
    return int(value) if value.isdigit() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _state(container: Container) -> dict[str, Any]:
    try:
        container.reload()
    except docker.errors.NotFound:
        return {"Status": "dead", "ExitCode": None}
    state: dict[str, Any] = container.attrs.get("State", {})
    return state


def _address(container: Container) -> str | None:
    """The container's address on its bridge network, when it has one."""
    settings = container.attrs.get("NetworkSettings") or {}
    address = settings.get("IPAddress") or next(
        (
            n.get("IPAddress")
            for n in (settings.get("Networks") or {}).values()
            if n.get("IPAddress")
        ),
        None,
    )
    return str(address) if address else None


def _tail(container: Container) -> str:
    try:
        raw: bytes = container.logs(tail=LOG_LINES)
    except (docker.errors.DockerException, OSError):
        return ""
    return raw.decode("utf-8", errors="replace")


def _split_lines(stream: Iterator[bytes]) -> Iterator[str]:
    pending = b""
    for chunk in stream:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")
