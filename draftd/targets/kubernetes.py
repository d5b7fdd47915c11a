"""The `kubernetes` target: the app as a Helm release, its rollout watched until it serves.

A deploy is `helm upgrade --install` of the app's chart (through Helm's own
engine) with `image.repository`/`image.tag` set to what was just built and
`buildId` to the build, in the environment's namespace (created when missing).
Then the rollout is watched with the `kubernetes` client until the Deployment
is available, and a failure is named the way `kubectl describe` would:
CrashLoopBackOff, ImagePullBackOff, a failing readiness probe, an unschedulable
pod — with the pod's last log lines.

Local clusters, as Skaffold does: when nothing was pushed, an image built on
this machine is visible to docker-desktop, minikube's docker driver, OrbStack
and Rancher Desktop clusters as it is; kind and k3d get it loaded with their
own CLI (`kind load docker-image`, `k3d image import`) when it is installed.
A remote cluster needs `registry` set in draft.toml.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import docker.errors
from kubernetes import client as k8s
from kubernetes import config as kubeconfig
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from draft import release as release_values
from draftd import engine
from draftd.model import AppKey, Deployment, DeployRequest, Image
from draftd.sync.syncer import Syncer
from draftd.targets import helm_release
from draftd.targets.base import (
    STOP_MARKED_TASK,
    DeployError,
    ExecResult,
    Report,
    TargetUnavailable,
    lines_from_thread,
    run_bounded,
    task_marker,
)
from draftd.targets.helm_process import HelmProcess
from draftd.targets.kube_api import AppsApi, CoreApi
from draftd.targets.kubernetes_sync import (
    SYNC_TAG_SUFFIX,
    KubernetesSyncer,
    push,
    running_instance,
    sync_image,
)
from draftd.targets.on_demand import default_kubeconfig
from draftd.wire import DeploymentState

log = logging.getLogger(__name__)
ROLLOUT_TIMEOUT = float(os.environ.get("DRAFTD_ROLLOUT_TIMEOUT", "180"))
"""How long a rollout may take to become ready (env DRAFTD_ROLLOUT_TIMEOUT, seconds)."""
ROLLOUT_POLL = 0.1
"""Seconds between two looks at a rollout (two list calls to the API server)."""
RECONNECT_WINDOW = 60.0
"""How long a port-forward keeps trying to reach a ready pod before it drops a connection."""
API_TIMEOUT = 3
ANSWER_TIMEOUT = 1.0
"""Seconds a new pod's app may take to answer one request before it counts as not serving."""
LOG_LINES = 20
WAITING_FAILURES = {
    "CrashLoopBackOff": "keeps crashing (CrashLoopBackOff)",
    "ImagePullBackOff": "cannot pull its image (ImagePullBackOff)",
    "ErrImagePull": "cannot pull its image (ErrImagePull)",
    "InvalidImageName": "has an invalid image name (InvalidImageName)",
    "CreateContainerConfigError": "has a configuration error (CreateContainerConfigError)",
    "RunContainerError": "cannot start its container (RunContainerError)",
}
SHARED_ENGINE_CLUSTERS = ("docker-desktop", "minikube", "orbstack", "rancher-desktop")
DRAFT_LOCAL_CONTEXT = "draft-local"
"""The context of the cluster `scripts/setup-cluster.sh` starts: its node runs its own
containerd on this machine, into which an image built here is loaded (as `kind load` does)."""
DRAFT_LOCAL_CONTAINERD = "/run/draft-cluster/containerd/containerd.sock"


def is_local_cluster(context: str) -> str | None:
    """The kind of local cluster a kube context names (kind, k3d, minikube…), or None."""
    if context.startswith("kind-"):
        return "kind"
    if context.startswith("k3d-"):
        return "k3d"
    if context == DRAFT_LOCAL_CONTEXT:
        return DRAFT_LOCAL_CONTEXT
    for name in SHARED_ENGINE_CLUSTERS:
        if context == name:
            return name
    return None


class KubernetesTarget:
    name = "kubernetes"

    def __init__(
        self,
        kubeconfig_path: str | None = None,
        context: str | None = None,
        rollout_timeout: float = ROLLOUT_TIMEOUT,
    ) -> None:
        self.kubeconfig_path = kubeconfig_path or default_kubeconfig()
        self.context = context
        self.rollout_timeout = rollout_timeout
        self._forwards: dict[AppKey, _PortForward] = {}
        self._namespaces: dict[AppKey, str] = {}
        """The namespace each app was last deployed to (status, logs and delete need it)."""
        self.syncer: Syncer | None = KubernetesSyncer(
            self._api, self._forward_url, self.name, restarted=self._drop_forwarded
        )
        self.helm = HelmProcess()
        """Helm's engine, in a helper process only while releases change (`helm_process`)."""
        """Saves go into the running pods (`draftd.targets.kubernetes_sync`)."""

    # -- reaching the cluster -------------------------------------------------------------

    def _api(self) -> k8s.ApiClient:
        if not self.kubeconfig_path or not Path(self.kubeconfig_path).is_file():
            raise TargetUnavailable(
                "No Kubernetes cluster is configured (no kubeconfig).",
                'Set KUBECONFIG, or deploy to docker (target = "docker").',
            )
        try:
            api: k8s.ApiClient = kubeconfig.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=self.kubeconfig_path, context=self.context
            )
            return api
        except (kubeconfig.ConfigException, OSError, ValueError) as error:
            raise TargetUnavailable(f"The kubeconfig cannot be used: {error}.") from error

    def _context_name(self) -> str:
        if self.context:
            return self.context
        try:
            _, current = kubeconfig.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=self.kubeconfig_path
            )
        except (kubeconfig.ConfigException, OSError, ValueError):
            return ""
        return str(current.get("name", "")) if current else ""

    def _cluster(self) -> helm_release.Cluster:
        return helm_release.Cluster(self.kubeconfig_path, self.context)

    async def available(self) -> bool:
        def ask() -> bool:
            try:
                api = self._api()
                k8s.VersionApi(api).get_code(_request_timeout=API_TIMEOUT)
            except (TargetUnavailable, ApiException, HTTPError, OSError):
                return False
            return True

        return await asyncio.to_thread(ask)

    # -- deploying ------------------------------------------------------------------------

    async def prepare(self, key: AppKey) -> None:
        """Start Helm's helper while the image builds (it left after its idle time): its
        Go runtime loads in parallel with the build, not after it, in the deploy's time."""
        await asyncio.to_thread(self.helm.warm)

    async def derive(
        self, image: Image, *, restartable: bool, pushed: bool, report: Report
    ) -> Image:
        """A restartable app runs `<tag>-sync` (`sync_image`), pushed beside the build's own
        image; any other, the image as built."""
        if not restartable:
            return image
        synced = await asyncio.to_thread(sync_image, image.reference, report)
        if synced is None:
            return image
        if pushed:
            await asyncio.to_thread(push, synced, report)
        return Image(image.repository, image.tag + SYNC_TAG_SUFFIX)

    async def deploy(self, request: DeployRequest, report: Report) -> Deployment:
        if request.chart_dir is None:
            raise DeployError("The build carried no chart to deploy.", "Run `draft up` again.")
        settings = request.settings
        self._namespaces[request.key] = settings["namespace"]
        image = request.image.reference
        if not request.pushed:
            await asyncio.to_thread(self._share_local_image, image, report)
        repository, _, tag = image.rpartition(":")
        values = release_values.deploy_values(
            settings["set"], repository=repository, tag=tag, build_id=request.build_id
        )
        report(f"helm upgrade --install {settings['name']} in namespace {settings['namespace']}")
        info = await asyncio.to_thread(
            self.helm.upgrade_install,
            self._cluster(),
            Path(request.chart_dir),
            release=settings["name"],
            namespace=settings["namespace"],
            values=values,
        )
        report(f"release {info.name} revision {info.revision}: {info.status}")
        url = None
        instance = None
        if settings["wait"]:
            watch = self._watch_rollout(
                request.key, settings["name"], settings["namespace"], report,
                image=image, superseded=request.superseded,
            )  # fmt: skip
            try:
                finished = await watch
            except Exception:
                # Back to the newest ready pod (the old revision's, which a failed rollout
                # leaves serving).
                await self._forward_to_newest(request.key)
                raise
            if not finished:  # the next deploy's rollout takes over from this one
                return Deployment(
                    request.key, self.name, self._forward_url(request.key), image,
                    request.build_id, "running",
                    detail=f"Helm release {info.name} revision {info.revision} in "
                    f"{info.namespace}; a newer deploy followed before its rollout ended",
                )  # fmt: skip
            url = await self._forward_to_newest(request.key)  # the pod the rollout made ready
            if image.endswith(SYNC_TAG_SUFFIX):
                instance = await asyncio.to_thread(
                    self._sync_instance, settings["name"], settings["namespace"], report
                )
        return Deployment(
            request.key, self.name, url, image, request.build_id, "running",
            detail=f"Helm release {info.name} revision {info.revision} in {info.namespace}",
            sync_instance=instance,
        )  # fmt: skip

    def _sync_instance(self, release: str, namespace: str, report: Report) -> str | None:
        """The pods a later save syncs into, once they run the wrapper and have tar."""
        core = CoreApi(self._api())
        instance = running_instance(core, namespace, release)
        if instance is None:
            report("saves rebuild the image: the rollout left no single-container ready pods")
            return None
        syncer = self.syncer
        assert isinstance(syncer, KubernetesSyncer)
        for pod, _ in instance.containers:
            code, _ = syncer.exec(namespace, pod, ["/bin/sh", "-c", "command -v tar"], b"")
            if code != 0:
                report(f"the image has no tar: saves rebuild the image (no file sync into {pod})")
                return None
        return str(instance)

    def _forward_url(self, key: AppKey) -> str | None:
        forward = self._forwards.get(key)
        return forward.url if forward is not None else None

    def _drop_forwarded(self, key: AppKey) -> None:
        """The app was restarted in its pod: end the connections the forward holds to it."""
        forward = self._forwards.get(key)
        if forward is not None:
            forward.drop()

    async def _forward_to_newest(self, key: AppKey) -> str | None:
        """After a rollout: the app's port-forward (made on the first deploy, kept on the same
        local port since) sends new connections to the pod that just became ready."""
        forward = self._forwards.get(key)
        if forward is None:
            try:
                return await self.connect(key, None)
            except (DeployError, ApiException, HTTPError, OSError) as error:
                log.warning("no port-forward to %s: %s", key, error)
                return None
        namespace = await self._namespace(key)
        with contextlib.suppress(ApiException, HTTPError, OSError, TargetUnavailable):
            forward.retarget(
                await asyncio.to_thread(self._newest_pod, key.app, namespace, ready=True)
            )
        return forward.url

    def _share_local_image(self, image: str, report: Report) -> None:
        """Make an image that exists only in this machine's engine visible to the cluster."""
        context = self._context_name()
        local = is_local_cluster(context)
        if local in SHARED_ENGINE_CLUSTERS:
            report(f"{context} shares this machine's Docker engine: {image} needs no push")
            return
        if local == DRAFT_LOCAL_CONTEXT:
            _load_into_node_containerd(image, report)
            return
        commands = {
            "kind": ["kind", "load", "docker-image", image, "--name", context[len("kind-") :]],
            "k3d": ["k3d", "image", "import", image, "--cluster", context[len("k3d-") :]],
        }
        command = commands.get(local or "")
        if command is None or shutil.which(command[0]) is None:
            raise DeployError(
                f"The cluster {context or '(current context)'} cannot see images built on this "
                "machine, and nothing was pushed.",
                'Set `registry` in draft.toml (e.g. "ghcr.io/me") so Draft pushes the image there.',
            )
        report(" ".join(command))
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DeployError(f"`{' '.join(command)}` failed: {done.stderr.strip()[-400:]}")

    async def _watch_rollout(
        self,
        key: AppKey,
        release: str,
        namespace: str,
        report: Report,
        *,
        image: str = "",
        superseded: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Wait until every replica is the new revision and available, as `kubectl rollout
        status` does: True. Meanwhile, as soon as a pod running `image` answers on its port,
        the app's port-forward sends new connections to it: the new code is served from then
        on, not a readiness-probe period (at least a second) and a controller round later.
        False as soon as the new code is served and `superseded()`: a newer deploy waits,
        whose rollout replaces this one (kept waiting, it would delay the newer code)."""
        deadline = time.monotonic() + self.rollout_timeout
        reported: set[str] = set()
        forward = self._forwards.get(key)
        while True:
            state = await asyncio.to_thread(self._rollout_state, release, namespace)
            for line in state.progress:
                if line not in reported:
                    reported.add(line)
                    report(line)
            if state.failure is not None:
                raise state.failure
            if state.ready:
                return True
            candidates = state.serving(image) if forward is not None and image else []
            serving = forward is not None and forward.pod in candidates
            if serving and superseded():
                report("a newer deploy follows: not waiting for the end of this rollout")
                return False
            if forward is not None and not serving:
                for pod in candidates:
                    if await asyncio.to_thread(forward.answers, pod):
                        forward.retarget(pod)
                        report(f"pod {pod} answers: serving it while the rollout finishes")
                        break
            if time.monotonic() > deadline:
                raise DeployError(
                    f"{release} did not become ready within {self.rollout_timeout:.0f} s"
                    + (f": {state.waiting}" if state.waiting else "."),
                    "`draft logs` shows the app's output, `kubectl describe pod` the cluster's.",
                )
            await asyncio.sleep(ROLLOUT_POLL)

    def _rollout_state(self, release: str, namespace: str) -> _Rollout:
        api = self._api()
        apps, core = AppsApi(api), CoreApi(api)
        selector = f"draft.sh/app={release}"
        deployments: list[Any]
        pods: list[Any]
        try:
            deployments = apps.list_namespaced_deployment(
                namespace, label_selector=selector, _request_timeout=API_TIMEOUT
            ).items
            pods = core.list_namespaced_pod(
                namespace, label_selector=selector, _request_timeout=API_TIMEOUT
            ).items
        except (ApiException, HTTPError, OSError) as error:
            raise TargetUnavailable(f"The cluster stopped answering: {error}.") from error
        rollout = _Rollout()
        # A pod being deleted (an old revision's, stopped by the rollout) may well have exited.
        pods = rollout.pods = [pod for pod in pods if _alive(pod)]
        for pod in pods:
            failure = _pod_failure(core, pod, namespace)
            if failure is not None:
                rollout.failure = failure
                return rollout
        probe = _failing_probe(core, pods, namespace)
        if probe:
            rollout.progress.append(probe)
        ready = bool(deployments)
        for deployment in deployments:
            spec: Any = deployment.spec
            status: Any = deployment.status
            meta: Any = deployment.metadata
            wanted = spec.replicas if spec.replicas is not None else 1
            available = (status.available_replicas or 0) if status else 0
            updated = (status.updated_replicas or 0) if status else 0
            # Pods of older revisions still counted (not yet told to terminate): as `kubectl
            # rollout status`, the rollout is done only when every replica is the new one and
            # available, not when an old pod's availability makes up the number.
            total = (status.replicas or 0) if status else 0
            generation = (status.observed_generation or 0) if status else 0
            observed = generation >= (meta.generation or 0)
            name = meta.name
            rollout.progress.append(f"{name}: {updated}/{wanted} updated, {available} available")
            settled = total <= updated and available >= updated
            if not (observed and updated >= wanted and available >= wanted and settled):
                ready = False
                rollout.waiting = f"{name} has {available} of {wanted} replicas available"
                if probe:
                    rollout.waiting += f"; {probe}"
        rollout.ready = ready
        return rollout

    # -- the rest of the life cycle -------------------------------------------------------

    def _configured(self) -> bool:
        """Whether a kubeconfig names a cluster at all (without one, nothing runs there)."""
        return bool(self.kubeconfig_path) and Path(str(self.kubeconfig_path)).is_file()

    async def status(self, key: AppKey) -> Deployment:
        if not self._configured():
            return Deployment(key, self.name, None, None, None, "absent")
        info = await asyncio.to_thread(
            self.helm.status,
            self._cluster(),
            release=key.app,
            namespace=await self._namespace(key),
        )
        if info is None:
            return Deployment(key, self.name, None, None, None, "absent")
        state: DeploymentState = "running" if info.status == "deployed" else "failed"
        forward = self._forwards.get(key)
        detail = f"Helm release {info.name} revision {info.revision}: {info.status}"
        if forward is not None and forward.reconnecting:
            detail += f"; the port-forward on {forward.url} is reconnecting to a ready pod"
        return Deployment(
            key, self.name, forward.url if forward else None, None, None, state, detail=detail
        )

    async def _namespace(self, key: AppKey) -> str:
        """The namespace the app was deployed to: remembered, else found among Helm's
        releases (after a draftd restart), else "default"."""
        known = self._namespaces.get(key)
        if known is None:
            found = await asyncio.to_thread(self.helm.find_namespace, self._cluster(), key.app)
            known = self._namespaces[key] = found or "default"
        return known

    async def logs(self, key: AppKey, *, follow: bool, tail: int) -> AsyncIterator[str]:
        namespace = await self._namespace(key)
        pod = await asyncio.to_thread(self._newest_pod, key.app, namespace)
        if pod is None:
            return

        def produce(emit: Callable[[str], None], stop: threading.Event) -> None:
            core = CoreApi(self._api())
            stream = core.read_namespaced_pod_log(
                pod, namespace, follow=follow, tail_lines=tail, _preload_content=False
            )
            for raw in stream.stream():
                if stop.is_set():
                    break
                for line in raw.decode("utf-8", errors="replace").splitlines():
                    emit(line)

        quiet = (ApiException, HTTPError, OSError, TargetUnavailable)
        async for line in lines_from_thread(produce, quiet=quiet):
            yield line

    def _newest_pod(self, release: str, namespace: str, *, ready: bool = False) -> str | None:
        """The app's newest pod that is not being deleted (with `ready`, whose containers all
        pass their readiness probes)."""
        core = CoreApi(self._api())
        pods: list[Any] = core.list_namespaced_pod(
            namespace, label_selector=f"draft.sh/app={release}", _request_timeout=API_TIMEOUT
        ).items
        alive = [p for p in pods if p.metadata.deletion_timestamp is None]
        if ready:
            alive = [p for p in alive if _is_ready(p)]
        if not alive:
            return None
        newest = max(alive, key=lambda p: p.metadata.creation_timestamp or 0)
        return str(newest.metadata.name)

    async def delete(self, key: AppKey) -> bool:
        forward = self._forwards.pop(key, None)
        if forward is not None:
            forward.close()
        if not self._configured():
            return False
        return await asyncio.to_thread(
            self.helm.uninstall,
            self._cluster(),
            release=key.app,
            namespace=await self._namespace(key),
        )

    async def exec(
        self, key: AppKey, command: list[str], *, timeout: float, limit: int
    ) -> ExecResult:
        """`kubectl exec` in the app's newest pod, through the API server, bounded
        (`run_bounded`): past its time limit the session is closed, and the task is killed
        with every process it started. Closing the session alone leaves them running, so
        where the image has /bin/sh the task runs under it with a marker in its environment
        (`task_marker`) and is killed by it from inside the pod."""
        from kubernetes.stream import stream

        namespace = await self._namespace(key)
        marker = task_marker()

        def start() -> tuple[str, Any]:
            pod = self._newest_pod(key.app, namespace)
            if pod is None:
                raise DeployError(f"{key} has no pod to run a task in.", "Run `draft up` first.")
            core = CoreApi(self._api())
            wrapped = command
            if _exits_0(core, pod, namespace, ["/bin/sh", "-c", "exit 0"]):
                wrapped = ["/bin/sh", "-c", f'export {marker}; exec "$@"', "draft-task", *command]
            return pod, stream(
                core.connect_get_namespaced_pod_exec, pod, namespace, command=wrapped,
                stderr=True, stdout=True, stdin=False, tty=False, _preload_content=False,
            )  # fmt: skip

        pod, session = await asyncio.to_thread(start)

        def run(emit: Callable[[bytes], None], stop: threading.Event) -> int | None:
            while session.is_open() and not stop.is_set():
                session.update(timeout=1)
                for text in (session.read_stdout(), session.read_stderr()):
                    if text:
                        emit(text.encode("utf-8", "replace"))
            session.close()
            return None if stop.is_set() else int(session.returncode or 0)

        def stop() -> None:
            kill = ["/bin/sh", "-c", STOP_MARKED_TASK, "-", marker]
            _exits_0(CoreApi(self._api()), pod, namespace, kill)
            session.close()

        return await run_bounded(run, timeout=timeout, limit=limit, stop=stop)

    async def connect(self, key: AppKey, local_port: int | None) -> str:
        """A port-forward from 127.0.0.1 to the app's newest ready pod, kept while draftd runs
        and on the same local port across redeploys and pod restarts."""
        forward = self._forwards.get(key)
        if forward is not None and (local_port is None or forward.port == local_port):
            return forward.url
        namespace = await self._namespace(key)
        pod = await asyncio.to_thread(self._newest_pod, key.app, namespace, ready=True)
        if pod is None:
            raise DeployError(f"{key} has no running pod to connect to.", "Run `draft up` first.")
        port = await asyncio.to_thread(self._container_port, pod, namespace)

        def resolve() -> str | None:
            return self._newest_pod(key.app, namespace, ready=True)

        if forward is not None:
            forward.close()
        forward = _PortForward(self._api, resolve, namespace, port)
        forward.retarget(pod)
        await forward.start(local_port or 0)
        self._forwards[key] = forward
        return forward.url

    def _container_port(self, pod: str, namespace: str) -> int:
        found: Any = CoreApi(self._api()).read_namespaced_pod(pod, namespace)
        for container in found.spec.containers:
            for port in container.ports or []:
                return int(port.container_port)
        return 8080


def _exits_0(core: CoreApi, pod: str, namespace: str, command: list[str]) -> bool:
    """Whether `command` runs in the pod and exits 0 within 10 s."""
    from kubernetes.stream import stream

    try:
        session = stream(
            core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
            stderr=True, stdout=True, stdin=False, tty=False, _preload_content=False,
        )  # fmt: skip
    except (ApiException, HTTPError, OSError):
        return False
    try:
        session.run_forever(timeout=10)
        return not session.is_open() and session.returncode == 0
    except Exception:  # the error channel of a command that did not start has no exit code
        return False
    finally:
        session.close()


class _Rollout:
    def __init__(self) -> None:
        self.ready = False
        self.failure: DeployError | None = None
        self.waiting = ""
        self.progress: list[str] = []
        self.pods: list[Any] = []
        """The release's pods that are not being deleted."""

    def serving(self, image: str) -> list[str]:
        """The pods on a node, newest first, one of whose containers is `image`: those that may
        already serve it. Their status is not asked: the kubelet reports a container running
        up to a second after it started (it lists the runtime's containers every second)."""
        found = [
            pod
            for pod in self.pods
            if pod.spec.node_name and any(c.image == image for c in pod.spec.containers)
        ]
        found.sort(key=lambda pod: pod.metadata.creation_timestamp or 0, reverse=True)
        return [str(pod.metadata.name) for pod in found]


def _failing_probe(core: CoreApi, pods: list[Any], namespace: str) -> str:
    """The newest probe failure the kubelet reported for a running pod that is not ready,
    as `kubectl describe pod` shows it ("Readiness probe failed: HTTP probe failed with
    statuscode: 404"), or ""."""
    for pod in pods:
        running = pod.status and pod.status.phase == "Running"
        if not running or _is_ready(pod) or pod.metadata.deletion_timestamp is not None:
            continue
        message = _probe_failure(core, pod.metadata.name, namespace)
        if message:
            return f"pod {pod.metadata.name}: {message}"
    return ""


def _probe_failure(core: CoreApi, pod: str, namespace: str) -> str:
    """The newest "Unhealthy" event of `pod` (a failed readiness, liveness or startup probe)."""
    try:
        events: list[Any] = core.list_namespaced_event(
            namespace,
            field_selector=f"involvedObject.name={pod},reason=Unhealthy",
            _request_timeout=API_TIMEOUT,
        ).items
    except (ApiException, HTTPError, OSError):
        return ""
    if not events:
        return ""
    newest = max(events, key=lambda e: str(e.last_timestamp or e.event_time or ""))
    return " ".join(str(newest.message or "").split())


def _alive(pod: Any) -> bool:
    """Whether a pod is not being deleted."""
    return pod.metadata is not None and pod.metadata.deletion_timestamp is None


def _is_ready(pod: Any) -> bool:
    statuses = (pod.status.container_statuses or []) if pod.status else []
    return bool(statuses) and all(s.ready for s in statuses)


def _pod_failure(core: CoreApi, pod: Any, namespace: str) -> DeployError | None:
    """Why a pod will not become ready, named as Kubernetes names it, with its last logs."""
    name = pod.metadata.name
    status = pod.status
    for condition in (status.conditions or []) if status else []:
        unschedulable = condition.reason == "Unschedulable" and condition.status == "False"
        if condition.type == "PodScheduled" and unschedulable:
            return DeployError(
                f"The pod {name} cannot be scheduled (Unschedulable): {condition.message}",
                "Lower the chart's resources requests, or add capacity to the cluster.",
            )
    for container in (status.container_statuses or []) if status else []:
        waiting = container.state.waiting if container.state else None
        if waiting is None or waiting.reason not in WAITING_FAILURES:
            continue
        what = WAITING_FAILURES[waiting.reason]
        exit_code = ""
        last = container.last_state.terminated if container.last_state else None
        if last is not None and last.exit_code is not None:
            exit_code = f", exit code {last.exit_code}"
        detail = f": {waiting.message}" if waiting.message else ""
        probe = (
            _probe_failure(core, name, namespace) if waiting.reason == "CrashLoopBackOff" else ""
        )
        if probe:
            detail += f" ({probe})"
        hint = (
            "The app's last log lines are above; fix the app and deploy again."
            if waiting.reason == "CrashLoopBackOff"
            else "Check the image name and that the cluster may pull from the registry."
        )
        logs = _last_logs(core, name, namespace, previous=waiting.reason == "CrashLoopBackOff")
        return DeployError(f"The pod {name} {what}{exit_code}{detail}", hint, logs=logs)
    for container in (status.container_statuses or []) if status else []:
        terminated = container.state.terminated if container.state else None
        if terminated is not None and terminated.exit_code not in (0, None):
            restarts = (
                ""
                if pod.spec.restart_policy == "Never"
                else ("; Kubernetes restarts it with a growing back-off (CrashLoopBackOff)")
            )
            return DeployError(
                f"The pod {name}'s container exited with code {terminated.exit_code}{restarts}",
                "The app's last log lines are above; fix the app and deploy again.",
                logs=_last_logs(core, name, namespace, previous=False),
            )
    return None


def _last_logs(core: CoreApi, pod: str, namespace: str, *, previous: bool) -> str:
    try:
        text = core.read_namespaced_pod_log(
            pod, namespace, tail_lines=LOG_LINES, previous=previous, _request_timeout=API_TIMEOUT
        )
    except (ApiException, HTTPError, OSError):
        return ""
    return str(text or "")


class _PortForward:
    """127.0.0.1:<port> forwarded to the app's newest ready pod through the API server.

    The local port stays the same for as long as draftd runs, across redeploys and pod
    restarts: each connection goes to the pod the last rollout made ready, and when that pod
    is gone the forward finds the newest ready one, retrying with backoff for up to
    `RECONNECT_WINDOW` seconds (the connection waits rather than fails), while `reconnecting`
    says so to `draft status`.
    """

    def __init__(
        self,
        api: Callable[[], k8s.ApiClient],
        resolve: Callable[[], str | None],
        namespace: str,
        remote_port: int,
    ) -> None:
        self.api = api
        self.resolve = resolve
        """Blocking: the name of the app's newest ready pod, or None while there is none."""
        self.namespace = namespace
        self.remote_port = remote_port
        self.pod: str | None = None
        self.port = 0
        self.reconnecting = False
        self._server: asyncio.Server | None = None
        self._remotes: set[Any] = set()
        """The pod ends of the connections open now."""
        self._drops = 0
        """How many times `drop` ended them (a connection being opened meanwhile ends too)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, local_port: int) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", local_port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def retarget(self, pod: str | None) -> None:
        """Send new connections to `pod` (the one a rollout just made ready)."""
        self.pod = pod
        self.reconnecting = False

    def answers(self, pod: str) -> bool:
        """Blocking: whether the app in `pod` answers HTTP on its port, through the API server
        as every connection of this forward goes (any answer counts, as for the docker target)."""
        try:
            remote = self._open(pod)
        except (ApiException, HTTPError, OSError, TargetUnavailable):
            return False
        try:
            remote.settimeout(ANSWER_TIMEOUT)
            remote.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            answer: bytes = remote.recv(16)
            return answer.startswith(b"HTTP/")
        except OSError:
            return False
        finally:
            with contextlib.suppress(OSError):
                remote.close()

    def _open(self, pod: str) -> Any:
        from kubernetes.stream import portforward

        core = CoreApi(self.api())
        forward = portforward(
            core.connect_get_namespaced_pod_portforward,
            pod,
            self.namespace,
            ports=str(self.remote_port),
        )
        return forward.socket(self.remote_port)

    async def _connect(self) -> Any | None:
        """A socket to the app's port in a ready pod, waiting (with backoff) for one."""
        deadline = time.monotonic() + RECONNECT_WINDOW
        delay = 0.1
        while True:
            pod = self.pod
            if pod is None:
                with contextlib.suppress(ApiException, HTTPError, OSError, TargetUnavailable):
                    pod = self.pod = await asyncio.to_thread(self.resolve)
            if pod is not None:
                try:
                    remote = await asyncio.to_thread(self._open, pod)
                except (ApiException, HTTPError, OSError, TargetUnavailable):
                    self.pod = None  # gone or not serving: find the newest ready pod again
                else:
                    self.reconnecting = False
                    return remote
            self.reconnecting = True
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def drop(self) -> None:
        """End the connections open now (the app they reached is gone: restarted in place).
        Left alone, one that reached the app as it ended would hang for about a second before
        the API server's stream noticed."""
        self._drops += 1
        for remote in list(self._remotes):
            with contextlib.suppress(OSError):
                remote.shutdown(socket.SHUT_RDWR)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._pump(reader, writer)
        except asyncio.CancelledError:
            # draftd is stopping. The connection ends here: a handler that ended cancelled
            # would be logged by asyncio's streams as an error, with a traceback, per connection.
            writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        drops = self._drops
        remote = await self._connect()
        if remote is None:
            writer.close()
            return
        if self._drops != drops:  # opened to the app `drop` was about: it is gone
            with contextlib.suppress(OSError):
                remote.close()
            writer.close()
            return
        self._remotes.add(remote)
        loop = asyncio.get_running_loop()

        def downstream() -> None:
            with contextlib.suppress(OSError):
                while data := remote.recv(65536):
                    loop.call_soon_threadsafe(writer.write, data)
            loop.call_soon_threadsafe(writer.close)

        pumping = loop.run_in_executor(None, downstream)
        try:
            while data := await reader.read(65536):
                await asyncio.to_thread(remote.sendall, data)
        except OSError:
            pass
        finally:
            self._remotes.discard(remote)
            with contextlib.suppress(OSError):
                remote.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pumping, 5)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def _load_into_node_containerd(image: str, report: Report) -> None:
    """Copy `image` from this machine's Docker engine into the local cluster node's containerd
    (`docker save | ctr images import`), unless the node has it already: tags are content
    hashes, so a tag the node knows is the same image."""
    address = os.environ.get("DRAFT_CLUSTER_CONTAINERD", DRAFT_LOCAL_CONTAINERD)
    ctr = ["ctr", "--address", address, "-n", "k8s.io"]
    if shutil.which("ctr") is None or not Path(address).exists():
        raise DeployError(
            f"The {DRAFT_LOCAL_CONTEXT} cluster's containerd is not running at {address}.",
            "Start the cluster with `bash scripts/setup-cluster.sh`, or set `registry`.",
        )
    reference = _containerd_reference(image)
    listed = subprocess.run(
        [*ctr, "images", "ls", "-q", f"name=={reference}"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    if listed.returncode == 0 and reference in listed.stdout.split():
        report(f"the node already has {image}")
        return
    report(f"loading {image} into the node's containerd (no registry: the node runs here)")
    client = engine.connect(timeout=300)
    try:
        chunks = client.api.get_image(image)
        with subprocess.Popen(
            [*ctr, "images", "import", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ) as importing:  # fmt: skip
            assert importing.stdin is not None
            try:
                for chunk in chunks:
                    importing.stdin.write(chunk)
            except BrokenPipeError:
                pass
            _, errors = importing.communicate(timeout=300)
    except docker.errors.DockerException as error:
        raise DeployError(f"Docker could not export {image}: {error}.") from error
    finally:
        client.close()
    if importing.returncode != 0:
        raise DeployError(
            f"The node's containerd refused {image}: {errors.decode(errors='replace')[-400:]}"
        )


def _containerd_reference(image: str) -> str:
    """The name containerd (and the kubelet) give a Docker-style reference: `app:tag` is
    `docker.io/library/app:tag`, as for any image without a registry host."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return image
    if not rest:
        return f"docker.io/library/{image}"
    return f"docker.io/{image}"
