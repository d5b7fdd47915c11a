"""A long `draft up --watch` session on the real cluster: every rebuild is a Helm revision,
and Helm keeps the last ten of them, as its own `helm upgrade` does, instead of one Secret per
save for ever (every upgrade reads them all)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_kit import Cluster
from kit import scaffold

from draftd.targets import helm_release

pytestmark = [pytest.mark.cluster]


def test_helm_keeps_the_last_ten_revisions_of_a_release(
    tmp_path: Path, cluster: Cluster, namespace: str
) -> None:
    app = scaffold(tmp_path / "app", "long", namespace=namespace, target="kubernetes")
    helm = helm_release.Cluster(str(cluster.kubeconfig))
    for revision in range(1, 13):
        # No pods (replicaCount 0): what is tested is Helm's record of the release.
        values = {"image": {"tag": f"save-{revision}"}, "replicaCount": 0}
        info = helm_release.upgrade_install(
            helm, app / "chart", release="long", namespace=namespace, values=values
        )
        assert (info.revision, info.status) == (revision, "deployed")
    kept = sorted(int(version) for version in cluster.release_revisions(namespace, "long"))
    assert kept == list(range(3, 13))
