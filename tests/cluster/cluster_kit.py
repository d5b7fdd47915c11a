"""A test's handle on the real cluster: its kubeconfig and the few reads and writes the tests
make directly (namespaces, pods, Helm's release records), through the `kubernetes` client."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as kubeconfig
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError


@dataclass
class Cluster:
    kubeconfig: Path
    api: Any

    @property
    def core(self) -> Any:
        return k8s.CoreV1Api(self.api)

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels=labels or {}))
        self.core.create_namespace(body)

    def delete_namespace(self, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.core.delete_namespace(name, grace_period_seconds=0)

    def pods(self, namespace: str, app: str) -> list[Any]:
        """The app's pods that are not being deleted, oldest first."""
        found = self.core.list_namespaced_pod(namespace, label_selector=f"draft.sh/app={app}")
        alive = [p for p in found.items if p.metadata.deletion_timestamp is None]
        return sorted(alive, key=lambda p: p.metadata.creation_timestamp)

    def ready_pod(self, namespace: str, app: str) -> Any | None:
        for pod in reversed(self.pods(namespace, app)):
            statuses = pod.status.container_statuses or []
            if statuses and all(s.ready for s in statuses):
                return pod
        return None

    def release_revisions(self, namespace: str, release: str) -> list[str]:
        """The revisions Helm recorded for `release` (one Secret each)."""
        secrets = self.core.list_namespaced_secret(
            namespace, label_selector=f"owner=helm,name={release}"
        )
        return sorted(s.metadata.labels.get("version", "") for s in secrets.items)

    def replace_pod(self, namespace: str, app: str) -> str:
        """Delete the app's ready pod, as `kubectl delete pod` would, and wait until the
        Deployment's replacement is ready: its name."""
        from waiting import until

        old = self.ready_pod(namespace, app)
        assert old is not None, f"{app} has no ready pod"
        self.core.delete_namespaced_pod(old.metadata.name, namespace, grace_period_seconds=0)
        new = until(
            lambda: (
                (p := self.ready_pod(namespace, app)) is not None
                and p.metadata.name != old.metadata.name
                and p
            ),
            90,
            "a new pod ready after the old one was deleted",
        )
        return str(new.metadata.name)

    def releases(self, namespace: str) -> list[str]:
        """The Helm releases recorded in `namespace` (Helm keeps them as labelled Secrets)."""
        secrets = self.core.list_namespaced_secret(namespace, label_selector="owner=helm")
        return sorted({s.metadata.labels.get("name", "") for s in secrets.items})

    def exec(self, namespace: str, pod: str, command: list[str]) -> str:
        from kubernetes.stream import stream

        answer = stream(
            self.core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
            stderr=True, stdout=True, stdin=False, tty=False,
        )  # fmt: skip
        return str(answer)


def connect_cluster(path: Path) -> Cluster | None:
    """The cluster `path` names when its API answers and a node is Ready, else None."""
    if not path.is_file():
        return None
    try:
        api = kubeconfig.new_client_from_config(config_file=str(path))
        nodes = k8s.CoreV1Api(api).list_node(_request_timeout=5).items
    except (kubeconfig.ConfigException, ApiException, HTTPError, OSError):
        return None
    for node in nodes:
        for condition in node.status.conditions or []:
            if condition.type == "Ready" and condition.status == "True":
                return Cluster(path, api)
    return None
