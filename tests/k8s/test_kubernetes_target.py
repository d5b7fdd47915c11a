"""The kubernetes target: a Helm release installed and upgraded through Helm's own engine, its
rollout watched, and failures named as Kubernetes names them. Against an HTTP-level Kubernetes
API (kmock's emulator, extended for Helm in emulator.py): no cluster can run on these machines.
tests/cluster/ runs the same story against a real cluster, opt-in."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import shutil
import time
from pathlib import Path

import pytest
from emulator import Cluster, add_pod, play_controller

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


def deployment_image(cluster: Cluster, namespace: str = "default") -> str:
    (deployment,) = cluster.objects("apps/v1/deployments", namespace)
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def release_revisions(cluster: Cluster, namespace: str = "default") -> list[int]:
    secrets = [
        s
        for s in cluster.objects("v1/secrets", namespace)
        if s["metadata"].get("labels", {}).get("owner") == "helm"
    ]
    revisions = []
    for secret in secrets:
        record = json.loads(
            gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"])))
        )
        revisions.append(record["version"])
    return sorted(revisions)


async def deploy_while_controller_runs(
    target: KubernetesTarget, cluster: Cluster, req: DeployRequest
) -> list[str]:
    lines: list[str] = []

    async def controller() -> None:
        while True:
            play_controller(cluster)
            await asyncio.sleep(0.2)

    playing = asyncio.create_task(controller())
    try:
        await target.deploy(req, lines.append)
    finally:
        playing.cancel()
    return lines


@pytest.mark.asyncio
async def test_release_is_installed_then_upgraded_with_the_new_tag(
    cluster: Cluster, chart: Path
) -> None:
    target = KubernetesTarget(str(cluster.kubeconfig))
    assert await target.available()

    lines = await deploy_while_controller_runs(target, cluster, request(chart, "v1"))
    assert deployment_image(cluster) == "127.0.0.1:5000/kube-app:v1"
    assert release_revisions(cluster) == [1]
    assert "release kube-app revision 1: deployed" in lines
    (deployment,) = cluster.objects("apps/v1/deployments", "default")
    assert deployment["spec"]["replicas"] == 2, "draft.toml's `set` reaches the chart"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["draft.sh/build-id"] == "b-v1"

    lines = await deploy_while_controller_runs(target, cluster, request(chart, "v2"))
    assert deployment_image(cluster) == "127.0.0.1:5000/kube-app:v2"
    assert release_revisions(cluster) == [1, 2]
    assert "release kube-app revision 2: deployed" in lines
    assert any("2/2 updated, 2 available" in line for line in lines)


@pytest.mark.asyncio
async def test_the_namespace_is_created_when_missing(cluster: Cluster, chart: Path) -> None:
    target = KubernetesTarget(str(cluster.kubeconfig))
    await target.deploy(request(chart, "v1", namespace="team-a", wait=False), lambda _: None)
    assert [n["metadata"]["name"] for n in cluster.objects("v1/namespaces")] == ["team-a"]
    assert deployment_image(cluster, "team-a") == "127.0.0.1:5000/kube-app:v1"


@pytest.mark.asyncio
async def test_a_crashing_pod_is_reported_as_crashloopbackoff_with_its_logs(
    cluster: Cluster, chart: Path
) -> None:
    # The emulator has no kubelet: the test serves the crashed container's log as a kubelet would.
    log = cluster.emulator["get /api/v1/namespaces/default/pods/kube-app-6f7c9-x2x1/log"]
    log << {"Content-Type": "text/plain"} << b"Traceback...\nKeyError: 'DATABASE_URL'\n"
    add_pod(
        cluster, "kube-app-6f7c9-x2x1", "default", "kube-app",
        {
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        },
    )  # fmt: skip
    target = KubernetesTarget(str(cluster.kubeconfig))
    with pytest.raises(DeployError) as failed:
        await target.deploy(request(chart, "v1"), lambda _: None)
    assert "kube-app-6f7c9-x2x1" in failed.value.message
    assert "CrashLoopBackOff" in failed.value.message
    assert "exit code 1" in failed.value.message
    assert "KeyError: 'DATABASE_URL'" in failed.value.logs


@pytest.mark.asyncio
async def test_an_image_that_cannot_be_pulled_is_reported_as_such(
    cluster: Cluster, chart: Path
) -> None:
    add_pod(
        cluster,
        "kube-app-1",
        "default",
        "kube-app",
        {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}}},
    )
    target = KubernetesTarget(str(cluster.kubeconfig))
    with pytest.raises(
        DeployError, match=r"cannot pull its image \(ImagePullBackOff\): pull access denied"
    ):
        await target.deploy(request(chart, "v1"), lambda _: None)


@pytest.mark.asyncio
async def test_an_unschedulable_pod_is_reported(cluster: Cluster, chart: Path) -> None:
    cluster.emulator.objects["v1/pods", "default", "kube-app-2"] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kube-app-2", "namespace": "default", "labels": {"draft.sh/app": "kube-app"}},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient memory."}]},
    }  # fmt: skip
    target = KubernetesTarget(str(cluster.kubeconfig))
    with pytest.raises(DeployError, match=r"cannot be scheduled \(Unschedulable\): 0/3 nodes"):
        await target.deploy(request(chart, "v1"), lambda _: None)


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
async def test_delete_uninstalls_the_release(cluster: Cluster, chart: Path) -> None:
    target = KubernetesTarget(str(cluster.kubeconfig))
    await target.deploy(request(chart, "v1", wait=False), lambda _: None)
    key = AppKey("kube-app", "development")
    assert (await target.status(key)).state == "running"
    assert await target.delete(key) is True
    assert cluster.objects("apps/v1/deployments", "default") == []
    assert (await target.status(key)).state == "absent"
    assert await target.delete(key) is False


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


@pytest.mark.asyncio
async def test_a_restarted_draftd_finds_the_app_in_its_namespace(
    cluster: Cluster, chart: Path
) -> None:
    """A new target (draftd restarted) knows nothing in memory: the release's namespace is found
    among Helm's releases, so status and delete still reach the app."""
    await KubernetesTarget(str(cluster.kubeconfig)).deploy(
        request(chart, "v1", namespace="team-b", wait=False), lambda _: None
    )
    restarted = KubernetesTarget(str(cluster.kubeconfig))
    key = AppKey("kube-app", "development")
    assert (await restarted.status(key)).state == "running"
    assert await restarted.delete(key) is True
    assert cluster.objects("apps/v1/deployments", "team-b") == []


@pytest.mark.asyncio
async def test_logs_are_the_newest_pods_lines(cluster: Cluster, chart: Path) -> None:
    # As above, the test serves the container's log as a kubelet would.
    log = cluster.emulator["get /api/v1/namespaces/default/pods/kube-app-2/log"]
    log << {"Content-Type": "text/plain"} << b" * Running on http://0.0.0.0:8080\nGET / 200\n"
    add_pod(cluster, "kube-app-2", "default", "kube-app", {"state": {"running": {}}})
    target = KubernetesTarget(str(cluster.kubeconfig))
    await target.deploy(request(chart, "v1", wait=False), lambda _: None)

    key = AppKey("kube-app", "development")
    lines = [line async for line in target.logs(key, follow=False, tail=10)]
    assert lines == [" * Running on http://0.0.0.0:8080", "GET / 200"]
