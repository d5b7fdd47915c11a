"""Sync into pods: the kubernetes target's `Syncer`, and the image its synced apps run.

A pod's files can only be written through the API's exec, which runs as the container's own
user, and a pod runs only what its image holds. So for an app whose saves can sync
(`DeployRequest.restartable`), draftd puts a thin layer on the image it just built — the
same restart wrapper the docker target uses, as the entrypoint, running the image's own
command, and the image's WORKDIR handed to the image's user so that user can write it — and
deploys that (`<tag>-sync`). A save then travels as a tar through the exec (`tar -x` in the
pod, as the app's user), and SIGHUP to the wrapper restarts the app: no build, no push, no
Helm upgrade, the same pod.

A pod that restarts or is replaced starts from its image again, without what was synced:
its container is no longer the instance that took the files, so the next save builds, and
the new image holds every file.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from draftd import engine
from draftd.model import AppKey, Deployment
from draftd.sync.syncer import WRAPPER, SyncRequest, SyncUnavailable, wrapper_script
from draftd.targets.base import DeployError, Report, TargetUnavailable, answers_http
from draftd.targets.kube_api import CoreApi
from draftd.targets.pod_channel import Closed, PodChannel, write_stdin

SYNC_TAG_SUFFIX = "-sync"
EXEC_TIMEOUT = 60.0
ROOT_USERS = ("", "0", "root", "0:0", "root:root")
KILLED = 128 + 9


def sync_image(reference: str, report: Report) -> str | None:
    """Build `<reference>-sync`: the image running its own command under the restart wrapper,
    its WORKDIR owned by its user. None (saves will build) when the image has no command of
    its own or no /bin/sh to run the wrapper."""
    client = engine.connect(timeout=300)
    try:
        attrs = client.images.get(reference).attrs
        config = attrs.get("Config") or {}
        command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        if not command:
            report("the image has no command of its own: saves rebuild the image (no file sync)")
            return None
        if not _has_shell(client, reference, attrs):
            report("the image has no /bin/sh: saves rebuild the image (no file sync)")
            return None
        user = str(config.get("User") or "")
        workdir = str(config.get("WorkingDir") or "")
        lines = [f"FROM {reference}"]
        if user not in ROOT_USERS and workdir not in ("", "/"):
            # The exec that syncs runs as this user: the folder the code lives in is theirs.
            lines.append(f"COPY --from={reference} --chown={user} {workdir} {workdir}")
        lines += [
            f"COPY restart.sh {WRAPPER}",
            f'ENTRYPOINT ["/bin/sh", "{WRAPPER}"]',
            f"CMD {json.dumps(command)}",
        ]
        tag = reference + SYNC_TAG_SUFFIX
        context = _context("\n".join(lines) + "\n", wrapper_script())
        try:
            # BuildKit: no container per step (the classic builder ran four, ≈ 0.8 s).
            events: Iterator[dict[str, Any]] = engine.buildkit_messages(
                client.api, context, tag=tag, timeout=300
            )
            _check_built(events, reference)
        except engine.NoBuildKit:
            context.seek(0)
            events = client.api.build(
                fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, decode=True
            )
            _check_built(events, reference)
        except engine.BuildRefused as refused:
            raise DeployError(
                f"Docker could not prepare {reference} for sync: {refused}"
            ) from refused
        report(f"{tag}: {reference} under the restart wrapper (saves sync into the pod)")
        return tag
    except docker.errors.APIError as error:  # the engine answered: it refused
        raise DeployError(
            f"Docker could not prepare {reference} for sync: {error.explanation or error}",
            "Save again; `sync = false` in draft.toml deploys the image as it is.",
        ) from error
    except docker.errors.DockerException as error:
        raise engine.engine_unavailable(error) from error
    finally:
        client.close()


_SHELLS: dict[str, bool] = {}
"""Whether images on a base layer have /bin/sh, by that layer's digest (bounded)."""


def _has_shell(client: docker.DockerClient, reference: str, attrs: dict[str, Any]) -> bool:
    """Whether the image has /bin/sh. Looked for once per base layer (a container created
    per look, ≈ 0.1 s): the next build of an app has the same base, and its steps do not
    remove the shell."""
    layers = (attrs.get("RootFS") or {}).get("Layers") or []
    base = str(layers[0]) if layers else ""
    if base not in _SHELLS:
        if len(_SHELLS) >= 64:
            _SHELLS.clear()
        _SHELLS[base] = engine.image_has_file(client, reference, "/bin/sh")
    return _SHELLS[base]


def _check_built(events: Iterator[dict[str, Any]], reference: str) -> None:
    """Read a build's messages to the end; its error, if any, as a `DeployError`."""
    for event in events:
        failure = engine.build_error(event)
        if failure is not None:
            raise DeployError(f"Draft could not prepare {reference} for sync: {failure}")


def push(reference: str, report: Report) -> None:
    """Push `reference` to its registry (the sync image: only its thin layer travels)."""
    repository, _, tag = reference.rpartition(":")
    client = engine.connect(timeout=300)
    try:
        for event in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise DeployError(f"Docker could not push {reference}: {event['error']}")
        report(f"pushed {reference}")
    except docker.errors.APIError as error:
        raise DeployError(
            f"Docker could not push {reference}: {error.explanation or error}"
        ) from error
    except docker.errors.DockerException as error:
        raise engine.engine_unavailable(error) from error
    finally:
        client.close()


def _context(dockerfile: str, wrapper: bytes) -> io.BytesIO:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, data, mode in (
            ("Dockerfile", dockerfile.encode(), 0o644),
            ("restart.sh", wrapper, 0o755),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    archive.seek(0)
    return archive


@dataclass(frozen=True)
class Instance:
    """The pods (and their containers) a sync goes into: `namespace|pod/containerID,…`."""

    namespace: str
    containers: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        pods = ",".join(f"{pod}/{container}" for pod, container in self.containers)
        return f"{self.namespace}|{pods}"

    @classmethod
    def parse(cls, text: str) -> Instance:
        namespace, _, pods = text.partition("|")
        pairs = tuple(
            (pod, container)
            for pod, _, container in (entry.partition("/") for entry in pods.split(","))
            if pod and container
        )
        return cls(namespace, pairs)


def running_instance(core: CoreApi, namespace: str, release: str) -> Instance | None:
    """The app's ready pods that run the restart wrapper, once a rollout is done."""
    pods: list[Any] = core.list_namespaced_pod(
        namespace, label_selector=f"draft.sh/app={release}", _request_timeout=5
    ).items
    containers = []
    for pod in pods:
        if pod.metadata.deletion_timestamp is not None:
            continue
        statuses = (pod.status.container_statuses or []) if pod.status else []
        if len(statuses) != 1 or not statuses[0].ready or not statuses[0].container_id:
            return None  # a rollout still settling, or a pod with sidecars: saves build
        containers.append((str(pod.metadata.name), str(statuses[0].container_id)))
    if not containers:
        return None
    return Instance(namespace, tuple(sorted(containers)))


class KubernetesSyncer:
    """Saves into the pods of the kubernetes target (`draftd.sync.syncer.Syncer`): the files'
    tar unpacked by `tar -x` through the API's exec, then SIGHUP to the restart wrapper."""

    def __init__(
        self,
        api: Callable[[], k8s.ApiClient],
        url_of: Callable[[AppKey], str | None],
        name: str = "kubernetes",
        restarted: Callable[[AppKey], None] = lambda _: None,
    ) -> None:
        self._api = api
        self._url_of = url_of
        """Where the app answers on this machine (its port-forward), to wait for a restart."""
        self._name = name
        self._restarted = restarted
        """Told once the app's processes were restarted (the forward drops what reached them)."""
        self._channels: dict[AppKey, dict[str, PodChannel]] = {}
        """Per app, per pod: its sync channel, while open (`draftd.targets.pod_channel`)."""
        self._no_channel: set[tuple[str, str]] = set()
        """Pods (namespace, name) that cannot keep one: one exec per save."""

    async def can_sync(self, key: AppKey, instance: str) -> bool:
        wanted = Instance.parse(instance)

        def check() -> bool:
            core = CoreApi(self._api())
            for pod, container in wanted.containers:
                try:
                    found: Any = core.read_namespaced_pod(pod, wanted.namespace, _request_timeout=5)
                except ApiException:
                    return False
                statuses = (found.status.container_statuses or []) if found.status else []
                alive = found.metadata.deletion_timestamp is None
                if not (alive and statuses and statuses[0].container_id == container):
                    return False  # restarted or replaced: it holds its image's files again
                if not (statuses[0].state and statuses[0].state.running):
                    return False
            return bool(wanted.containers)

        try:
            return await asyncio.to_thread(check)
        except (HTTPError, OSError, TargetUnavailable):
            return False

    async def copy(self, request: SyncRequest, report: Report) -> None:
        instance = Instance.parse(request.instance)
        size = len(request.archive)
        # The exec cannot close the pod's stdin: `head -c` ends the stream at the archive's end.
        # As the app's user, tar rewrites the files it owns in place (--overwrite truncates
        # rather than unlinks: the folder may stay root's). Once they are all there, the same
        # exec signals the wrapper (one round trip through the API server less per save):
        # `restart` then only waits for the app.
        untar = "tar -x --overwrite -f - -C /"
        command = ["/bin/sh", "-c", f"head -c {size} | {untar} 2>&1 && kill -HUP 1"]
        channels = self._channels.setdefault(request.key, {})
        for gone in set(channels) - {pod for pod, _ in instance.containers}:
            channels.pop(gone).close()
        for pod, _ in instance.containers:
            code, output = await asyncio.to_thread(
                self._unpack, channels, instance.namespace, pod, command, request.archive
            )
            if code == 127 or "not found" in output:
                raise SyncUnavailable(f"the pod {pod} has no tar to unpack the files with")
            # 137: the wrapper's restart ended every process of the app's user, this exec's
            # shell too, once it had sent the signal.
            if code not in (0, KILLED):
                raise SyncUnavailable(
                    f"the app's user could not write the files in the pod {pod}: "
                    + " ".join(output.split())[-300:]
                )
        pods = ", ".join(pod for pod, _ in instance.containers)
        files = "1 file" if request.files == 1 else f"{request.files} files"
        report(f"copied {files} into {pods}")

    async def restart(self, request: SyncRequest, report: Report) -> Deployment:
        url = self._url_of(request.key)
        if request.files:  # `copy` signalled the wrapper after unpacking
            self._restarted(request.key)
            report("restarting the app in its pod")
            if request.wait and url:
                await _wait_answers(url)
                report(f"the app answers at {url}")
        elif not await self.can_sync(request.key, request.instance):
            raise SyncUnavailable("the pod Draft synced into is gone")
        return Deployment(
            request.key, self._name, url, None, request.build_id, "running",
            sync_instance=request.instance,
        )  # fmt: skip

    def _unpack(
        self,
        channels: dict[str, PodChannel],
        namespace: str,
        pod: str,
        command: list[str],
        archive: bytes,
    ) -> tuple[int, str]:
        """`command` with `archive` on its stdin, through the pod's sync channel when it has
        one (opened on its first save), else one exec."""
        channel = channels.get(pod)
        if (channel is None or not channel.is_open()) and (namespace, pod) not in self._no_channel:
            try:
                channel = channels[pod] = PodChannel.open(self._api(), namespace, pod)
            except Closed:
                self._no_channel.add((namespace, pod))
                channel = None
        if channel is not None:
            try:
                return channel.send(archive, EXEC_TIMEOUT)
            except Closed:
                channels.pop(pod, None)
        return self.exec(namespace, pod, command, archive)

    def exec(self, namespace: str, pod: str, command: list[str], data: bytes) -> tuple[int, str]:
        """Run `command` in the pod's container with `data` on its stdin: exit code, output."""
        from kubernetes.stream import stream

        core = CoreApi(self._api())
        try:
            session = stream(
                core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
                stdin=bool(data), stdout=True, stderr=True, tty=False, _preload_content=False,
            )  # fmt: skip
        except ApiException as error:
            if error.status == 404:
                raise SyncUnavailable(f"the pod {pod} is gone") from error
            raise DeployError(
                f"The cluster refused to run a command in {pod}: {error.reason}"
            ) from error
        output: list[str] = []
        try:
            write_stdin(session, data)
            deadline = time.monotonic() + EXEC_TIMEOUT
            while session.is_open():
                if time.monotonic() > deadline:
                    raise DeployError(f"Copying into {pod} took longer than {EXEC_TIMEOUT:.0f} s.")
                session.update(timeout=1)
                output += [session.read_stdout(), session.read_stderr()]
        finally:
            session.close()
        code = session.returncode
        return (int(code) if code is not None else 0), "".join(o for o in output if o)


async def _wait_answers(url: str, timeout: float = 60.0) -> None:
    """Until the restarted app answers HTTP through its port-forward (any status counts)."""
    host, _, port = url.removeprefix("http://").partition(":")
    deadline = time.monotonic() + timeout

    while time.monotonic() < deadline:
        if await asyncio.to_thread(answers_http, host, int(port), 2):
            return
        await asyncio.sleep(0.02)
    raise DeployError(
        f"The app did not answer at {url} within {timeout:.0f} s after its restart.",
        "`draft logs` shows its output; fix the app and save again.",
    )
