"""The `docker` target: the app as one container on the local Docker engine.

One container per app and environment, named `draft-<app>-<env>` and labelled
so draftd finds it again after a restart. The app's URL is 127.0.0.1 at a port
draftd itself listens on (`draftd.targets.app_port`), chosen on the first deploy,
named in the container's labels and kept for every later one, across draftd
restarts too; it forwards to the container serving now at its bridge address,
and the engine publishes no port. A redeploy starts the new container beside the
old one, waits until it answers HTTP, switches the app's port to it, and removes
the old container once the connections still open on it have ended (at most
`DRAIN_TIMEOUT`): no request finds the app down, and no address is reused, so no
ARP entry goes stale. An app that exits or never answers is a `DeployError`
carrying its last log lines, and the old container goes on serving.

Every save that builds waits for its container to start, most of which is the
engine setting up its network: after each deploy a spare container that only
holds a network (the app's image, sleeping) is started for the next one to join,
which then starts in a third of the time.

An app whose saves can be synced (`DeployRequest.restartable`) runs under the
restart wrapper (`draftd.sync.syncer.wrapper_script`), a small POSIX shell script
given to the container's `/bin/sh -c`: its `DockerSyncer` copies the changed files in
and sends the wrapper SIGHUP, which restarts the app's command in place (the same
container, so the app's port keeps forwarding to it), and a save costs the app's
start-up time and nothing else. Images without /bin/sh run as they are, and their
saves build the image.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from draft.errors import DraftError
from draftd import stages
from draftd.engine import connect, engine_unavailable, has_file
from draftd.model import AppKey, Deployment, DeployRequest, Image
from draftd.quiet import WhenQuiet
from draftd.sync.syncer import SyncRequest, SyncUnavailable, wrapper_script
from draftd.targets import rootfs
from draftd.targets.app_port import AppPort, Backend
from draftd.targets.base import (
    STOP_MARKED_TASK,
    DeployError,
    ExecResult,
    Report,
    TargetUnavailable,
    answers_http,
    lines_from_thread,
    run_bounded,
    task_marker,
)

log = logging.getLogger(__name__)

LABEL_MANAGED = "sh.draft.managed"
LABEL_APP = "sh.draft.app"
LABEL_ENV = "sh.draft.environment"
LABEL_BUILD = "sh.draft.build-id"
LABEL_PORT = "sh.draft.host-port"
LABEL_SYNC = "sh.draft.sync"
LABEL_APP_PORT = "sh.draft.app-port"
"""The port the app listens on inside its container (where draftd's app port forwards)."""
LABEL_ROLE = "sh.draft.role"
"""`network` on the containers that hold an app container's network (`_spare_network`)."""
_HOLD = ["/bin/sh", "-c", "trap 'exit 0' TERM; while sleep 3600; do :; done"]
OLD_APP_TIMEOUT = 2.0
"""How long a synced restart waits for the app's old process to end before it waits for the
new one to answer anyway."""
DRAIN_TIMEOUT = 2.0
"""How long connections open on a replaced container may go on before it is removed."""
_BRIDGE_REACHABLE = sys.platform == "linux"
"""Containers' bridge addresses are reachable from this machine (not where the engine runs in
a VM, as Docker Desktop's does)."""
READY_TIMEOUT = 60.0
STATE_EVERY = 5
"""While waiting for a new container to answer: how many tries between looks at its state."""
SPARES = 2
"""Spare networks kept per app for its next containers (`DockerTarget._prepare_network`)."""
RETIRE_QUIET = 2.0
"""Seconds without a deploy of an app before its replaced containers are removed."""
RETIRED_KEPT = 3
"""Replaced containers of an app waiting at most to be removed while its saves go on."""
ENGINE_TIMEOUT = 120
LOG_LINES = 20
_WRAPPER_SCRIPT = "\n".join(
    line for line in wrapper_script().decode().splitlines() if not line.lstrip().startswith("#")
)
"""The restart wrapper as `sh -c` runs it (the image's command is its "$@"), comments left out."""
HOST_PROC = Path("/proc")
"""Where draftd sees the engine's processes, when the engine runs on this machine."""


def container_name(key: AppKey) -> str:
    return f"draft-{key.app}-{key.environment}"


class DockerTarget:
    name = "docker"

    def __init__(self, ready_timeout: float = READY_TIMEOUT) -> None:
        self.ready_timeout = ready_timeout
        self.syncer = DockerSyncer(self)
        self._client: docker.DockerClient | None = None
        self._ports: dict[AppKey, AppPort] = {}
        """Each app's port, draftd's own (`draftd.targets.app_port`)."""
        self._retiring: set[asyncio.Task[None]] = set()
        """Replaced containers being removed once their connections have ended."""
        self._resuming: asyncio.Task[None] | None = None
        self._spares: dict[AppKey, list[Container]] = {}
        """Per app: networks made ready for its next containers (`_spare_network`)."""
        self._preparing: set[AppKey] = set()
        self._retired: dict[AppKey, list[Container]] = {}
        """Per app: replaced containers, drained, waiting to be removed (`_retire`)."""
        self._removals = WhenQuiet(RETIRE_QUIET, self._remove_retired, self._background)
        """Per app: the removal of its replaced containers, once it has had no deploy."""

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

    async def derive(
        self, image: Image, *, restartable: bool, pushed: bool, report: Report
    ) -> Image:
        """The image as built: a restartable app runs it under the wrapper copied into its
        container (`DockerSyncer`)."""
        return image

    async def deploy(self, request: DeployRequest, report: Report) -> Deployment:
        await self._resumed()
        key = request.key
        self._removals.put_off(key)
        old = await asyncio.to_thread(self._find, key)
        app_port = await self._app_port(key, old, report)
        container, backend = await asyncio.to_thread(
            self._start_beside, request, app_port.port, report
        )
        try:
            if backend is None:
                raise await asyncio.to_thread(_unreachable, container)
            if request.settings["wait"]:
                report(f"waiting for the app to answer at {backend[0]}:{backend[1]}")
                stages.start("ready")
                await self._wait_ready(container, backend)
            before = app_port.backend
            app_port.switch(backend)  # the app answers: from now on it serves
            try:
                await asyncio.to_thread(self._take_name, key, old, container)
            except BaseException:
                app_port.switch(before)
                raise
        except DeployError:
            if old is None:  # kept under the app's name: `draft logs` and status show it
                with contextlib.suppress(DraftError):
                    await asyncio.to_thread(self._take_name, key, None, container)
            else:  # the old container goes on serving
                self._retire(None, container)
            raise
        except BaseException:
            self._retire(None, container)
            raise
        report(f"the app answers at {app_port.url}")
        if old is not None:
            report(f"removing the previous container of {key} once the app's saves pause")
            self._retire(app_port, old, key)
        self._background(self._prepare_network(key, request.image.reference))
        synced = container.labels.get(LABEL_SYNC) == "true"
        return Deployment(
            key,
            self.name,
            app_port.url,
            request.image.reference,
            request.build_id,
            "running",
            sync_instance=(container.id or None) if synced else None,
        )

    async def _app_port(self, key: AppKey, old: Container | None, report: Report) -> AppPort:
        """The app's port, draftd's own: the one it has, else the one its container names
        (kept across draftd restarts), else a free one."""
        app_port = self._ports.get(key)
        if app_port is not None:
            return app_port
        kept = _kept_port(old)
        if old is not None and _legacy(old):
            # Deployed by a draftd before app ports: the engine holds the port, so this one
            # swap stops the old container first.
            report(f"stopping the previous container of {key}, which publishes its port itself")
            await asyncio.to_thread(_remove, old)
        backend = await asyncio.to_thread(_backend, old) if old is not None else None
        app_port = AppPort(backend, relocate=self._locator(key))
        await app_port.listen(kept or 0, str(key))
        self._ports[key] = app_port
        return app_port

    def _start_beside(
        self, request: DeployRequest, host_port: int, report: Report
    ) -> tuple[Container, Backend | None]:
        """Create and start the new container beside the one serving (no port published:
        the app's port is draftd's), under a name of its own until it takes over; with where
        it answers (None when the engine gave it no address: it exited at once, say)."""
        name = container_name(request.key)
        labels = {
            LABEL_MANAGED: "true",
            LABEL_APP: request.key.app,
            LABEL_ENV: request.key.environment,
            LABEL_BUILD: request.build_id,
            LABEL_PORT: str(host_port),
            LABEL_APP_PORT: str(request.port),
        }
        settings: dict[str, Any] = {
            "name": f"{name}-next-{request.build_id}",
            "detach": True,
            "environment": {"PORT": str(request.port)},
            "labels": labels,
        }
        if not _BRIDGE_REACHABLE:  # the engine runs in a VM: reach the app through a port
            settings["ports"] = {f"{request.port}/tcp": ("127.0.0.1", None)}
        network = self._take_spare(request.key)
        if network is not None:
            settings["network_mode"] = f"container:{network.id}"
        container = None
        try:
            if request.restartable:
                container = self._create_restartable(request, settings)
            container = self._runnable(request, settings, container, report)
            report(f"starting {settings['name']} from {request.image.reference}")
            container.start()
            if network is None:  # else its address is the network holder's, known already
                container.reload()
            return container, _backend(container, network)
        except docker.errors.APIError as error:
            if container is not None:
                _remove(container)
            if network is not None:
                _remove(network)
            raise DeployError(
                f"Docker could not start {name}: {error.explanation or error}",
                "Save again; run `draft delete` then `draft up` if this persists.",
            ) from error
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error

    def _take_name(self, key: AppKey, old: Container | None, container: Container) -> None:
        """Give the serving container the app's container name (`docker logs draft-<app>-<env>`
        keeps working), the old one a name of its own until it is removed."""
        name = container_name(key)
        renamed = False
        try:
            if old is not None:
                with contextlib.suppress(docker.errors.NotFound):
                    old.rename(f"{name}-old-{int(time.time() * 1000)}")
                    renamed = True
            container.rename(name)
        except docker.errors.APIError as error:
            if old is not None and renamed:  # the old container goes on serving, as it was
                with contextlib.suppress(docker.errors.DockerException, OSError):
                    old.rename(name)
            raise DeployError(
                f"Docker could not rename the new container to {name}: "
                f"{error.explanation or error}",
                "A container of that name that Draft did not start may be in the way: remove it.",
            ) from error
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error

    def _retire(
        self, app_port: AppPort | None, container: Container, key: AppKey | None = None
    ) -> None:
        """Remove `container` in the background, once the connections still open on it have
        ended (or after `DRAIN_TIMEOUT`); with no `app_port`, at once. A replaced container
        of `key` waits until the app has had no deploy for `RETIRE_QUIET` seconds (removing
        one slowed the engine's next build and start by ≈ 0.1 s when saves came one after
        another), at most `RETIRED_KEPT` of them."""

        async def retire() -> None:
            backend = await asyncio.to_thread(_backend, container)
            if app_port is not None and backend is not None:
                await app_port.drain(backend, DRAIN_TIMEOUT)
            if key is None:
                await asyncio.to_thread(_remove_with_network, container)
                return
            retired = self._retired.setdefault(key, [])
            retired.append(container)
            while len(retired) > RETIRED_KEPT:
                await asyncio.to_thread(_remove_with_network, retired.pop(0))
            self._removals.wait(key)

        self._background(retire())

    async def _remove_retired(self, key: AppKey) -> None:
        for container in self._retired.pop(key, []):
            await asyncio.to_thread(_remove_with_network, container)

    def _background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` after a deploy, on its own; `close` cancels it."""
        task = asyncio.get_running_loop().create_task(work)
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        return task

    async def _prepare_network(self, key: AppKey, image: str) -> None:
        """After a deploy, start spare networks for the app's next containers, up to
        `SPARES` (`_spare_network`): with two, a save that comes right after a deploy still
        finds one ready while the next is started."""
        if not _BRIDGE_REACHABLE or key in self._preparing:
            return
        self._preparing.add(key)
        try:
            while len(self._spares.get(key, [])) < SPARES and key in self._ports:
                try:
                    spare = await asyncio.to_thread(self._spare_network, key, image)
                except (TargetUnavailable, docker.errors.DockerException, OSError) as error:
                    log.info("no spare network for %s: %s", key, error)
                    return
                if spare is None:
                    return
                if key not in self._ports:  # the app was deleted meanwhile
                    await asyncio.to_thread(_remove, spare)
                    return
                self._spares.setdefault(key, []).append(spare)
        finally:
            self._preparing.discard(key)

    def _spare_network(self, key: AppKey, image: str) -> Container | None:
        """A container that only holds a network (a bridge address of its own), for the app's
        next container to join: joining one, a container starts in about a third of the time
        (the engine sets up no interface), which is on the critical path of every save that
        builds. It runs the app's image (nothing else need be pulled) sleeping under /bin/sh;
        None when the image has no shell to sleep in."""
        labels = {
            LABEL_MANAGED: "true",
            LABEL_APP: key.app,
            LABEL_ENV: key.environment,
            LABEL_ROLE: "network",
        }
        holder = self._engine().containers.create(
            image,
            name=f"{container_name(key)}-net-{int(time.time() * 1000)}",
            entrypoint=_HOLD,
            command=[],
            labels=labels,
            detach=True,
        )
        try:
            holder.start()
            if _state(holder).get("Status") == "running":
                return holder
        except docker.errors.APIError:
            pass
        _remove(holder)
        return None

    def _take_spare(self, key: AppKey) -> Container | None:
        """The app's spare network, if it still runs (blocking)."""
        spares = self._spares.get(key) or []
        while spares:
            spare = spares.pop(0)  # the oldest: its image is the likeliest to go first
            if _state(spare).get("Status") == "running":
                return spare
            _remove(spare)
        return None

    def _locator(self, key: AppKey) -> Callable[[], Awaitable[Backend | None]]:
        """Where the app's container answers now (an engine restart may give it a new address)."""

        async def locate() -> Backend | None:
            def find() -> Backend | None:
                container = self._find(key)
                return _backend(container) if container is not None else None

            with contextlib.suppress(TargetUnavailable, docker.errors.DockerException, OSError):
                return await asyncio.to_thread(find)
            return None

        return locate

    async def resume(self, keys: list[AppKey]) -> None:
        """After draftd starts: listen again on the ports of the apps it had running here, and
        remove containers a swap left behind. Runs in the background; deploys wait for it."""
        self._resuming = asyncio.get_running_loop().create_task(self._resume(keys))

    async def _resumed(self) -> None:
        if self._resuming is not None:
            await asyncio.shield(self._resuming)

    async def _resume(self, keys: list[AppKey]) -> None:
        for key in keys:
            try:
                found = await asyncio.to_thread(self._containers, key)
            except (TargetUnavailable, docker.errors.DockerException, OSError) as error:
                log.warning("cannot serve the apps on Docker again: %s", error)
                return
            current = next((c for c in found if c.name == container_name(key)), None)
            network = _network_of(current) if current is not None else None
            for leftover in found:
                if leftover is not current and leftover.id != network:
                    await asyncio.to_thread(_remove, leftover)
            port = _kept_port(current)
            if current is None or port is None or _legacy(current) or key in self._ports:
                continue
            backend = await asyncio.to_thread(_backend, current)
            app_port = AppPort(backend, relocate=self._locator(key))
            try:
                await app_port.listen(port, str(key))
            except (DraftError, OSError) as error:
                log.warning("cannot serve %s again: %s", key, error)
                continue
            self._ports[key] = app_port
            log.info("serving %s on %s again", key, app_port.url)

    def _containers(self, key: AppKey) -> list[Container]:
        """Every container Draft started for `key` here (the serving one, and any a swap
        left behind)."""
        labels = [
            f"{LABEL_MANAGED}=true",
            f"{LABEL_APP}={key.app}",
            f"{LABEL_ENV}={key.environment}",
        ]
        found: list[Container] = self._engine().containers.list(all=True, filters={"label": labels})
        return found

    async def close(self) -> None:
        """Stop listening on the apps' ports (draftd stops); the containers keep running."""
        for task in list(self._retiring):
            task.cancel()
        for app_port in self._ports.values():
            await app_port.close()
        self._ports.clear()
        for spares in self._spares.values():
            for spare in spares:
                await asyncio.to_thread(_remove, spare)
        self._spares.clear()

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
        self, container: Container, backend: Backend, interval: float = 0.01
    ) -> None:
        """Until the app answers HTTP in `container` (at `backend`, where the app port will
        send connections), or `DeployError` when it exits or never answers. A refused
        connection costs well under a millisecond, the engine's inspect several: the
        container's state is asked every `STATE_EVERY` tries."""
        deadline = time.monotonic() + self.ready_timeout
        tries = 0
        while time.monotonic() < deadline:
            if await asyncio.to_thread(answers_http, *backend):
                return
            tries += 1
            state = {} if tries % STATE_EVERY else await asyncio.to_thread(_state, container)
            if state.get("Status") in ("exited", "dead"):
                code = state.get("ExitCode")
                raise DeployError(
                    f"The app's container exited with code {code} before it answered.",
                    "Its last log lines are above; fix the app and save again.",
                    logs=await asyncio.to_thread(_tail, container),
                )
            await asyncio.sleep(interval)
        raise DeployError(
            f"The app did not answer on port {backend[1]} within {self.ready_timeout:.0f} s.",
            f"Check that it listens on 0.0.0.0:{backend[1]} (the port the chart and Dockerfile "
            "name).",
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
        await self._resumed()
        container = await asyncio.to_thread(self._find, key)
        if container is None:
            return Deployment(key, self.name, None, None, None, "absent")
        state = await asyncio.to_thread(_state, container)
        labels = container.labels
        port = labels.get(LABEL_PORT)
        running = state.get("Status") == "running"
        if running and key not in self._ports and not _legacy(container):
            return Deployment(
                key, self.name, None, None, self._build_of(key, container), "failed",
                detail=f"the container runs, but draftd cannot listen on its port {port} "
                "(its log says why): `draft up` again",
            )  # fmt: skip
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
        await self._resumed()
        app_port = self._ports.pop(key, None)
        if app_port is not None:
            await app_port.close()
        self._spares.pop(key, None)  # removed with the rest below
        self._retired.pop(key, None)
        self._removals.drop(key)

        def remove() -> bool:
            found = self._containers(key)
            for container in found:
                _remove(container)
            return any(c.name == container_name(key) for c in found)

        try:
            return await asyncio.to_thread(remove)
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error

    async def exec(
        self, key: AppKey, command: list[str], *, timeout: float, limit: int
    ) -> ExecResult:
        """`docker exec` in the app's container, bounded (`run_bounded`).

        A task past its time limit is killed with every process it started: they carry its
        marker (`TASK_MARKER`) in their environment. draftd kills them itself when it sees
        the engine's processes and may signal them (`_stop_on_host`: a local engine, draftd
        as root), and from inside the container with the image's /bin/sh in any case
        (a rootless or remote engine, a draftd in a container of its own).
        """
        api = self._engine().api
        marker = task_marker()

        def start() -> tuple[str, Any, str]:
            container = self._find(key)
            if container is None:
                raise DeployError(f"{key} is not running on Docker.", "Run `draft up` first.")
            try:
                created = api.exec_create(
                    container.id, command, stdout=True, stderr=True, environment=[marker]
                )
                stream = api.exec_start(created["Id"], stream=True)
                return str(container.id), stream, str(created["Id"])
            except docker.errors.APIError as error:
                raise DeployError(f"Docker could not run {command[0]} in {key}: {error}") from error

        container_id, stream, exec_id = await asyncio.to_thread(start)

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
            _stop_on_host(marker)
            with contextlib.suppress(docker.errors.DockerException, OSError):
                inside = api.exec_create(
                    container_id, ["/bin/sh", "-c", STOP_MARKED_TASK, "-", marker]
                )
                api.exec_start(inside["Id"])  # no /bin/sh: the engine says so, nothing to do
            stream.close()

        return await run_bounded(run, timeout=timeout, limit=limit, stop=stop)

    async def connect(self, key: AppKey, local_port: int | None) -> str:
        deployment = await self.status(key)
        if deployment.url is None:
            raise DeployError(f"{key} is not deployed on Docker.", "Run `draft up` first.")
        return deployment.url


def _stop_on_host(marker: str) -> None:
    """SIGKILL every process on this machine whose environment has `marker`: a task and its
    children, found by their marker rather than by the engine's PID for them, which names
    another process where the engine runs in a VM or another PID namespace. Where draftd may
    not read or signal the engine's processes, nothing is found or nothing is signalled."""
    wanted = marker.encode()
    for _ in range(2):  # a child forked while the first pass ran
        for entry in HOST_PROC.glob("[0-9]*"):
            try:
                found = wanted in (entry / "environ").read_bytes().split(b"\0")
                if found:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ValueError):
                continue


class DockerSyncer:
    """Saves into the docker target's restartable containers (`draftd.sync.syncer.Syncer`):
    `docker cp` of the files' tar, then SIGHUP to the restart wrapper, the container's PID 1."""

    def __init__(self, target: DockerTarget) -> None:
        self._target = target
        self._synced: dict[AppKey, tuple[str, str]] = {}
        """Per app: the container synced into, and the build whose files it last took."""
        self._known: dict[AppKey, Container] = {}
        """Per app: the container a sync last looked up (a synced save asks the engine only to
        copy and to signal; its address and labels do not change while it runs)."""

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
            root = _root_filesystem(container)
            if not (root and rootfs.write_files(root, request.archive)):
                with self._sync_errors(request.key, container, "copy the changed files into"):
                    container.put_archive("/", request.archive)
            report(f"copied {_files(request.files)} into {name}")

        await asyncio.to_thread(put)

    async def restart(self, request: SyncRequest, report: Report) -> Deployment:
        def signal() -> tuple[Container, Backend, socket.socket | None]:
            container = self._container(request)
            where, held = _where(container), None
            if request.files and request.wait:
                # A connection to the app as it is, to see its old process end (not a request:
                # a Python app's warm spare answers the next one a few ms after the old ends).
                held = _connect(where)
                if held is None:  # the app is down, or moved (`docker restart`): ask again
                    container = self._container(request, fresh=True)
                    where = _where(container)
                    held = _connect(where)
            if request.files:
                try:
                    with self._sync_errors(request.key, container, "restart the app in"):
                        container.kill(signal="SIGHUP")
                except BaseException:
                    if held is not None:
                        held.close()
                    raise
                report("restarting the app in its container")
            return container, where, held

        container, where, held = await asyncio.to_thread(signal)
        url = f"http://127.0.0.1:{container.labels.get(LABEL_PORT)}"
        if request.files and request.wait:
            stages.start("ready")
            await self._wait_restarted(container, where, held)
            report(f"the app answers at {url}")
        self._synced[request.key] = (request.instance, request.build_id)
        image = ",".join(container.image.tags) if container.image else None
        return Deployment(
            request.key, self._target.name, url, image, request.build_id, "running",
            sync_instance=request.instance,
        )  # fmt: skip

    def _container(self, request: SyncRequest, fresh: bool = False) -> Container:
        known = self._known.get(request.key)
        if known is not None and known.id == request.instance and not fresh:
            return known
        self._known.pop(request.key, None)
        container = self._target._find(request.key)
        if container is None or container.id != request.instance:
            name = container_name(request.key)
            raise SyncUnavailable(f"{name} is not the container Draft started any more")
        self._known[request.key] = container
        return container

    @contextlib.contextmanager
    def _sync_errors(self, key: AppKey, container: Container, doing: str) -> Iterator[None]:
        """`_sync_errors`, and the container is looked up again after any failure."""
        try:
            with _sync_errors(container, container_name(key), doing):
                yield
        except BaseException:
            self._known.pop(key, None)
            raise

    async def _wait_restarted(
        self, container: Container, where: Backend, held: socket.socket | None
    ) -> None:
        """Wait until the app's old process has ended (`held`, a connection to it, is closed),
        then until the new one answers."""
        if held is not None:
            await asyncio.to_thread(_until_closed, held, OLD_APP_TIMEOUT)
        await self._target._wait_ready(container, where, interval=0.005)


def _root_filesystem(container: Container) -> str | None:
    """The container's root filesystem as this machine sees it, when draftd may write synced
    files there itself (`draftd.targets.rootfs`): overlay2, an engine on this machine."""
    engine = os.environ.get("DOCKER_HOST", "")
    if not _BRIDGE_REACHABLE or (engine and not engine.startswith("unix://")):
        return None
    if container.attrs.get("Mounts"):  # a volume (an image's VOLUME too) hides what is below
        return None
    driver = container.attrs.get("GraphDriver") or {}
    root = str((driver.get("Data") or {}).get("MergedDir") or "")
    return root if driver.get("Name") == "overlay2" and rootfs.usable(root) else None


def _where(container: Container) -> Backend:
    """Where to reach the app in `container` from here: its own address, else draftd's port."""
    return _backend(container) or ("127.0.0.1", int(container.labels.get(LABEL_PORT, "0")))


def _connect(where: Backend) -> socket.socket | None:
    try:
        return socket.create_connection(where, timeout=0.5)
    except OSError:  # nothing listens: the app has already ended
        return None


def _until_closed(connection: socket.socket, timeout: float) -> None:
    """Block until the other end closes `connection` (or resets it), at most `timeout` s."""
    connection.settimeout(timeout)
    try:
        while connection.recv(4096):
            pass
    except OSError:  # reset (the process was killed), or the timeout: go on either way
        pass
    finally:
        connection.close()


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


def _remove(container: Container) -> None:
    with contextlib.suppress(docker.errors.DockerException, OSError):
        container.remove(force=True)


def _kept_port(container: Container | None) -> int | None:
    if container is None:
        return None
    value = container.labels.get(LABEL_PORT, "")
    return int(value) if value.isdigit() else None


def _state(container: Container) -> dict[str, Any]:
    try:
        container.reload()
    except docker.errors.NotFound:
        return {"Status": "dead", "ExitCode": None}
    state: dict[str, Any] = container.attrs.get("State", {})
    return state


def _unreachable(container: Container) -> DeployError:
    """Why a container just started has no address: it exited (its logs say why), or the
    engine's network gave it none."""
    state = _state(container)
    if state.get("Status") in ("exited", "dead"):
        return DeployError(
            f"The app's container exited with code {state.get('ExitCode')} before it answered.",
            "Its last log lines are above; fix the app and save again.",
            logs=_tail(container),
        )
    return DeployError(
        f"Docker gave {container.name} no address to reach it at.",
        "Check the engine's default bridge network (`docker network inspect bridge`).",
    )


def _legacy(container: Container) -> bool:
    """Whether `container` came from a draftd before app ports: the engine publishes its port."""
    return LABEL_APP_PORT not in container.labels


def _backend(container: Container, network: Container | None = None) -> Backend | None:
    """Where the app in `container` answers: its bridge address (or that of `network`, the
    container whose network it joined) and port, or, where the engine runs in a VM, the port
    the engine published for it."""
    app_port = container.labels.get(LABEL_APP_PORT, "")
    if not app_port.isdigit():
        return None
    if _BRIDGE_REACHABLE:
        address = _address(network or container)
        return (address, int(app_port)) if address else None
    ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
    bound = ports.get(f"{app_port}/tcp") or []
    host_port = next((b.get("HostPort") for b in bound if b.get("HostPort")), None)
    return ("127.0.0.1", int(host_port)) if host_port else None


def _network_of(container: Container) -> str | None:
    """The id of the container whose network `container` joined, if it joined one."""
    mode = str((container.attrs.get("HostConfig") or {}).get("NetworkMode") or "")
    return mode.removeprefix("container:") if mode.startswith("container:") else None


def _remove_with_network(container: Container) -> None:
    """Remove `container`, and the container holding its network if it joined one."""
    _remove(container)
    network = _network_of(container)
    if network is not None and container.client is not None:
        with contextlib.suppress(docker.errors.DockerException, OSError):
            container.client.api.remove_container(network, force=True)


def _address(container: Container) -> str | None:
    """The container's address on its bridge network (or on the network it joined), when it
    has one (blocking when it joined one: the holder is looked up)."""
    network = _network_of(container)
    if network is not None:
        if container.client is None:
            return None
        try:
            holder = container.client.containers.get(network)
        except (docker.errors.DockerException, OSError):
            return None
        return _address(holder)
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
