"""The kubernetes target against a REAL cluster — opt-in, since none can run on CI's machines.

Run it with a cluster your kubeconfig names (kind, minikube, k3d, Docker Desktop or remote) and a
registry the cluster can pull from (not needed for Docker Desktop and minikube's docker driver):

    DRAFT_TEST_CLUSTER=1 KUBECONFIG=~/.kube/config DRAFT_TEST_REGISTRY=ghcr.io/me \\
        .venv/bin/pytest tests/cluster -m cluster

It deploys examples/python through a real draftd with the real Docker builder, checks the app
answers through `draft connect`'s port-forward, upgrades it, and checks a crashing app is
reported as CrashLoopBackOff. Everything it creates lives in a fresh namespace it deletes.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit import Draftd, fetch, free_port, missing, scaffold, set_greeting, wait_for_text

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
def opted_in() -> None:
    """Opt-in; once opted in (CI included) a missing KUBECONFIG fails instead of skipping."""
    if os.environ.get("DRAFT_TEST_CLUSTER") != "1":
        pytest.skip("opt-in: set DRAFT_TEST_CLUSTER=1 and KUBECONFIG to a reachable cluster")
    if not os.environ.get("KUBECONFIG"):
        missing("KUBECONFIG naming a reachable cluster", "export KUBECONFIG=~/.kube/config")


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"draft-test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(
        ["kubectl", "delete", "namespace", name, "--wait=false"], check=False, timeout=60
    )


@pytest.fixture
def draftd(tmp_path: Path) -> Iterator[Draftd]:
    daemon = Draftd(tmp_path / "state", free_port())
    daemon.start()
    yield daemon
    daemon.stop()


def test_up_installs_connects_upgrades_and_reports_a_crash(
    tmp_path: Path, draftd: Draftd, namespace: str
) -> None:
    registry = os.environ.get("DRAFT_TEST_REGISTRY", "")
    app = scaffold(
        tmp_path / "app", "cluster-app", namespace=namespace, registry=registry, target="kubernetes"
    )

    first = draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert first.returncode == 0, first.stderr
    connect = draftd.draft("connect", str(app))
    assert connect.returncode == 0, connect.stderr
    url = connect.stdout.strip()
    assert fetch(url) == "Hello World!"

    set_greeting(app, "Hello, cluster!")
    assert draftd.draft("up", str(app), "--no-watch", timeout=600).returncode == 0
    url = draftd.draft("connect", str(app)).stdout.strip()
    wait_for_text(url, "Hello, cluster!", timeout=120)

    (app / "app.py").write_text('raise SystemExit("boom")\n')
    crashed = draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert crashed.returncode == 1
    assert "CrashLoopBackOff" in crashed.stderr
    assert "boom" in crashed.stderr
