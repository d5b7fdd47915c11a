"""No registry needed: on the cluster `scripts/setup-cluster.sh` runs on this machine
(context `draft-local`), an image built here is loaded straight into the node's containerd, the
way `kind load docker-image` does, and the pod runs it without any pull."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_kit import Cluster
from kit import Draftd, fetch, scaffold, set_greeting
from waiting import until

pytestmark = [pytest.mark.cluster, pytest.mark.docker]


def test_up_without_a_registry_runs_the_image_built_here(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str
) -> None:
    app = scaffold(tmp_path / "app", "local", namespace=namespace, target="kubernetes")
    greeting = f"Hello from {namespace}"  # new content: an image the node cannot have yet
    set_greeting(app, greeting)
    up = cluster_draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert up.returncode == 0, up.stderr
    assert "into the node's containerd" in up.stderr
    pod = until(lambda: cluster.ready_pod(namespace, "local"), 30, "a ready pod")
    image = pod.spec.containers[0].image
    assert image.startswith("local:"), image
    url = cluster_draftd.draft("connect", str(app)).stdout.strip()
    assert fetch(url) == greeting
