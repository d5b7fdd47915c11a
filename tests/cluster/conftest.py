"""Fixtures for the tests that run on a real Kubernetes: the single-node cluster that
`bash scripts/setup-cluster.sh` builds from upstream source and starts (CI starts it first),
a fresh namespace per test, and a draftd that deploys into that cluster.

When the cluster is not running a test is skipped on a developer's machine and FAILS when
CI=true, like the Docker tests: CI must never pass by skipping what it was meant to prove.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from cluster_kit import Cluster, connect_cluster
from kit import Draftd, free_port, missing

DEFAULT_KUBECONFIG = Path(
    os.environ.get("DRAFT_CLUSTER_DIR", "/var/lib/draft-cluster"), "admin.kubeconfig"
)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    kubeconfig = Path(os.environ.get("DRAFT_TEST_KUBECONFIG") or DEFAULT_KUBECONFIG)
    found = connect_cluster(kubeconfig)
    if found is None:
        missing(
            f"a running Kubernetes cluster with a Ready node (kubeconfig {kubeconfig})",
            how="bash scripts/setup-cluster.sh",
        )
    yield found


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace of the test's own, deleted afterwards with everything in it."""
    name = f"draft-test-{uuid.uuid4().hex[:8]}"
    cluster.create_namespace(name)
    yield name
    cluster.delete_namespace(name)


RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
"""The labels that make the API server refuse any pod short of the "restricted" Pod Security
level in a namespace (the admission controller is built into every API server)."""


@pytest.fixture
def restricted_namespace(cluster: Cluster) -> Iterator[str]:
    """Like `namespace`, where the cluster enforces the "restricted" Pod Security level."""
    name = f"draft-test-{uuid.uuid4().hex[:8]}"
    cluster.create_namespace(name, labels=RESTRICTED)
    yield name
    cluster.delete_namespace(name)


@pytest.fixture
def cluster_draftd(
    tmp_path: Path, cluster: Cluster, docker_engine: docker.DockerClient, python_base_image: str
) -> Iterator[Draftd]:
    """A real draftd whose kubernetes target is the real cluster (it builds with the real
    Docker engine, so it needs that and the python base image too)."""
    daemon = Draftd(
        tmp_path / "state",
        free_port(),
        extra_env={"KUBECONFIG": str(cluster.kubeconfig), "DRAFTD_ROLLOUT_TIMEOUT": "90"},
    )
    daemon.start()
    yield daemon
    daemon.stop()
