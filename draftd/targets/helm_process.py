"""Helm's release operations in a helper process of draftd, there while releases change.

helm-python-sdk keeps Helm's Go runtime (≈ 80 MB resident) in whichever process imports it.
draftd needs Helm only for a deploy that builds, a `draft status`/`delete` on the cluster and
finding an app's namespace after a restart; a save synced into a pod needs none of it. So the
operations of `draftd.targets.helm_release` run in `python -m draftd.targets.helm_process`
(`draft.helper_process`: started on the first, leaving after 10 s without one), and draftd
idling between saves holds no Helm.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import Any

from draft import helper_process
from draftd.targets.helm_release import Cluster, HelmReleaseFailed, ReleaseInfo


class HelmProcess:
    """The release operations of `helm_release`, each run in the helper. Blocking, as
    `helm_release`'s are: the kubernetes target calls them in a thread."""

    def __init__(self, idle_exit: float = helper_process.IDLE_EXIT) -> None:
        self.helper = helper_process.HelperProcess(
            __name__, HelmReleaseFailed, "Helm's helper process", idle_exit
        )

    def upgrade_install(
        self,
        cluster: Cluster,
        chart_dir: Path,
        *,
        release: str,
        namespace: str,
        values: dict[str, Any],
    ) -> ReleaseInfo:
        arguments = {"chart_dir": str(chart_dir), "release": release, "namespace": namespace}
        found = self._call("upgrade_install", cluster, {**arguments, "values": values})
        return ReleaseInfo(**found)

    def uninstall(self, cluster: Cluster, *, release: str, namespace: str) -> bool:
        return bool(self._call("uninstall", cluster, {"release": release, "namespace": namespace}))

    def status(self, cluster: Cluster, *, release: str, namespace: str) -> ReleaseInfo | None:
        found = self._call("status", cluster, {"release": release, "namespace": namespace})
        return None if found is None else ReleaseInfo(**found)

    def find_namespace(self, cluster: Cluster, release: str) -> str | None:
        found = self._call("find_namespace", cluster, {"release": release})
        return None if found is None else str(found)

    def warm(self) -> None:
        """Have the helper running with Helm's engine loaded (it is started if it had left);
        a helper that cannot start is left to the next operation to report."""
        with contextlib.suppress(HelmReleaseFailed):
            self.helper.call("warm", {})

    def stop(self) -> None:
        self.helper.stop()

    def _call(self, operation: str, cluster: Cluster, arguments: dict[str, Any]) -> Any:
        return self.helper.call(operation, {**arguments, "cluster": dataclasses.asdict(cluster)})


def _perform(operation: str, arguments: dict[str, Any]) -> Any:
    from draftd.targets import helm_release  # Helm's engine: imported here, in the helper only

    if operation == "warm":
        return None  # helm_release, and with it Helm's engine, is imported: ready
    cluster = Cluster(**arguments.pop("cluster"))
    if operation == "upgrade_install":
        chart_dir = Path(arguments.pop("chart_dir"))
        return dataclasses.asdict(helm_release.upgrade_install(cluster, chart_dir, **arguments))
    if operation == "status":
        found = helm_release.status(cluster, **arguments)
        return None if found is None else dataclasses.asdict(found)
    if operation == "uninstall":
        return helm_release.uninstall(cluster, **arguments)
    if operation == "find_namespace":
        return helm_release.find_namespace(cluster, arguments["release"])
    raise ValueError(f"unknown operation {operation!r}")


if __name__ == "__main__":
    sys.exit(helper_process.main(_perform))
