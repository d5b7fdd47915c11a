"""The kubernetes target where a real cluster cannot show it quickly or at all, against an
HTTP-level Kubernetes API (kmock's emulator, extended for Helm in emulator.py): a rollout that
never becomes ready times out naming what it waited for (on the real cluster that takes the
whole rollout timeout; here the emulator's controller never makes the pods available), and a
cluster that does not answer. Installs, upgrades, every rollout failure the kubelet produces,
logs, delete and a restarted draftd run on the real cluster in tests/cluster/."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from emulator import Cluster

from draft import packs, scaffold
from draftd.model import AppKey, DeployRequest, Image
from draftd.targets.base import DeployError
from draftd.targets.kubernetes import KubernetesTarget, is_local_cluster

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", app)
    scaffold.create(app, packs.find_pack("python"), "kube-app")
    return app / "chart"


def request(
    chart: Path, tag: str, *, namespace: str = "default", wait: bool = True
) -> DeployRequest:
    return DeployRequest(
        key=AppKey("kube-app", "development"),
        build_id=f"b-{tag}",
        image=Image("127.0.0.1:5000/kube-app", tag),
        settings={
            "name": "kube-app",
            "namespace": namespace,
            "dockerfile": "Dockerfile",
            "chart": "chart",
            "registry": "127.0.0.1:5000",
            "set": ["replicaCount=2"],
            "custom_tags": [],
            "image_build_args": {},
            "target": "kubernetes",
            "wait": wait,
        },
        chart_dir=str(chart),
        port=8080,
        pushed=True,
    )


@pytest.mark.asyncio
async def test_a_rollout_that_never_becomes_ready_times_out_with_what_it_waited_for(
    cluster: Cluster, chart: Path
) -> None:
    target = KubernetesTarget(str(cluster.kubeconfig), rollout_timeout=2)
    with pytest.raises(
        DeployError, match="did not become ready within 2 s: kube-app has 0 of 2 replicas available"
    ):
        await target.deploy(request(chart, "v1"), lambda _: None)


@pytest.mark.asyncio
async def test_an_unreachable_cluster_is_unavailable_within_seconds(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    started = time.monotonic()
    assert await KubernetesTarget(str(kubeconfig)).available() is False
    assert time.monotonic() - started < 5
    assert await KubernetesTarget(str(tmp_path / "missing")).available() is False


def test_local_clusters_are_recognised_by_their_context() -> None:
    assert is_local_cluster("kind-dev") == "kind"
    assert is_local_cluster("k3d-mycluster") == "k3d"
    assert is_local_cluster("docker-desktop") == "docker-desktop"
    assert is_local_cluster("minikube") == "minikube"
    assert is_local_cluster("gke_project_zone_prod") is None
