"""Helm releases in a cluster: the one place draftd drives Helm's engine against Kubernetes.

`upgrade_install` is `helm upgrade --install --create-namespace`, built from
helm-python-sdk's install and upgrade (it has no upgrade-with-install of its
own). Every call blocks; they run in Helm's helper process (`draftd.targets.helm_process`),
which is the only process that imports helm-python-sdk (Helm's Go runtime) through them.
Helm's errors become `HelmReleaseFailed` with Helm's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from draft.errors import DraftError

MAX_HISTORY = 10
"""Revisions Helm keeps of a release, as the Helm CLI's `upgrade` does: a save is a revision,
and every upgrade reads them all, so unbounded history slows each deploy of a long session."""


class HelmReleaseFailed(DraftError):
    """Helm could not install, upgrade or remove the release."""


@dataclass(frozen=True)
class ReleaseInfo:
    name: str
    namespace: str
    revision: int
    status: str


@dataclass(frozen=True)
class Cluster:
    """Which cluster Helm talks to: a kubeconfig file and, optionally, one of its contexts."""

    kubeconfig: str | None = None
    context: str | None = None

    def helm(self, namespace: str) -> Any:
        return _engine().Config(
            kubeconfig_path=self.kubeconfig, kube_context=self.context, namespace=namespace
        )


def _engine() -> Any:
    """helm-python-sdk, imported on first use (it starts Helm's Go runtime)."""
    import helm_python

    return helm_python


def upgrade_install(
    cluster: Cluster, chart_dir: Path, *, release: str, namespace: str, values: dict[str, Any]
) -> ReleaseInfo:
    helm_python = _engine()
    helm = cluster.helm(namespace)
    try:
        revisions = _history(helm, release)
        if any(r.get("status") == "deployed" for r in revisions):
            result = helm.upgrade(
                str(chart_dir), release, values, namespace=namespace, max_history=MAX_HISTORY
            )
        else:
            if revisions:  # only failed attempts: start again, as `upgrade --install` does
                helm.uninstall(release, ignore_not_found=True)
            result = helm.install(
                str(chart_dir), release, values, namespace=namespace, create_namespace=True
            )
    except helm_python.HelmError as error:
        raise HelmReleaseFailed(
            f"Helm could not deploy {release}: {_words(error)}",
            "Fix the chart (`draft check` shows its problems) or the cluster, and deploy again.",
        ) from error
    return _info(result, release, namespace)


def uninstall(cluster: Cluster, *, release: str, namespace: str) -> bool:
    """Remove the release; False when there was none."""
    helm_python = _engine()
    helm = cluster.helm(namespace)
    try:
        if not _history(helm, release):
            return False
        helm.uninstall(release, ignore_not_found=True)
    except helm_python.HelmError as error:
        raise HelmReleaseFailed(f"Helm could not remove {release}: {_words(error)}") from error
    return True


def status(cluster: Cluster, *, release: str, namespace: str) -> ReleaseInfo | None:
    helm_python = _engine()
    helm = cluster.helm(namespace)
    try:
        revisions = _history(helm, release)
    except helm_python.HelmError as error:
        raise HelmReleaseFailed(f"Helm could not read {release}: {_words(error)}") from error
    if not revisions:
        return None
    return _info(max(revisions, key=lambda r: int(r.get("revision", 0))), release, namespace)


def find_namespace(cluster: Cluster, release: str) -> str | None:
    """The namespace holding `release`, looking in every namespace; None when none does."""
    helm_python = _engine()
    try:
        found = cluster.helm("default").list(
            all_namespaces=True, all_states=True, name_filter=f"^{re.escape(release)}$"
        )
    except helm_python.HelmError:
        return None
    for entry in found or []:
        namespace = dict(entry).get("namespace")
        if namespace:
            return str(namespace)
    return None


def _history(helm: Any, release: str) -> list[dict[str, Any]]:
    helm_python = _engine()
    try:
        found = helm.history(release)
    except helm_python.HelmNotFoundError:
        return []
    except helm_python.HelmError as error:
        if "not found" in str(error).lower():
            return []
        raise
    return [dict(r) for r in (found or [])]


def _info(result: Any, release: str, namespace: str) -> ReleaseInfo:
    data = dict(result) if result is not None else {}
    return ReleaseInfo(
        str(data.get("name", release)),
        str(data.get("namespace", namespace)),
        int(data.get("revision", 0)),
        str(data.get("status", "unknown")),
    )


def _words(error: Exception) -> str:
    return " ".join(str(error).split())[:600]
