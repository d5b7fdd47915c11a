"""Each pack whose base images this machine can make, deployed end to end from its example on
the real cluster, in a namespace that enforces the "restricted" Pod Security level: the image
is pushed, the node pulls it, the kubelet starts it as the pack's numeric user (giving a slow
starter such as the JVM its pack's startup time), the URL answers."""

from __future__ import annotations

from pathlib import Path

import docker
import docker.errors
import pytest
from cluster_kit import Cluster
from kit import Draftd, missing, scaffold, wait_for_text

from draft import packs

pytestmark = [pytest.mark.cluster, pytest.mark.docker]

PROVEN_ON_CLUSTER = ["python", "node", "go", "rust", "java", "php", "erlang"]
"""The packs CI deploys end to end on the cluster (README's pack table)."""


def needs_base_images(pack: str) -> None:
    """The pack's base images (or their stand-ins) on this engine, else missing()."""
    engine = docker.from_env()
    try:
        for image in packs.find_pack(pack).images:
            try:
                engine.images.get(image)
            except docker.errors.ImageNotFound:
                missing(f"the {image} image or its local stand-in")
    finally:
        engine.close()


@pytest.mark.parametrize("pack", PROVEN_ON_CLUSTER)
def test_the_example_serves_on_the_cluster_under_restricted(
    pack: str, tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd,
    restricted_namespace: str, registry: str,
) -> None:  # fmt: skip
    needs_base_images(pack)
    name = f"k8s-{pack}"
    app = scaffold(
        tmp_path / "app", name, example=pack, namespace=restricted_namespace,
        registry=registry, target="kubernetes",
    )  # fmt: skip
    up = cluster_draftd.draft("up", str(app), "--no-watch", timeout=900)
    assert up.returncode == 0, up.stderr[-3000:]
    pod = cluster.ready_pod(restricted_namespace, name)
    assert pod is not None
    found = packs.find_pack(pack)
    user = found.user
    assert (pod.spec.security_context.run_as_user, pod.spec.security_context.run_as_group) == (
        user.uid, user.gid,
    )  # fmt: skip
    startup = pod.spec.containers[0].startup_probe
    if found.probes.startup_seconds:  # a slow starter (the JVM) is given its pack's time
        assert startup is not None, "the pack's startup_seconds gives the pod a startup probe"
        assert startup.failure_threshold * startup.period_seconds >= found.probes.startup_seconds
    else:
        assert startup is None

    connect = cluster_draftd.draft("connect", str(app))
    assert connect.returncode == 0, connect.stderr
    wait_for_text(connect.stdout.strip(), "Hello World!", timeout=60)
