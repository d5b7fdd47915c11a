"""The whole story on a real Kubernetes node: `draft up --target kubernetes` builds the image,
pushes it to the loopback registry, the node pulls it, Helm installs the release and the rollout
becomes ready; then connect, status, logs, history, tasks in the pod, an edit under watch, a
draftd restart, and delete — each checked the way a user would see it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cluster_kit import Cluster
from kit import Draftd, fetch, scaffold, set_greeting, stop, wait_for_text
from waiting import until

pytestmark = [pytest.mark.cluster, pytest.mark.docker]


def test_up_connect_watch_tasks_restart_and_delete_on_a_real_cluster(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    app = scaffold(
        tmp_path / "app", "story", namespace=namespace, registry=registry, target="kubernetes",
        watch_delay=0.1,
    )  # fmt: skip
    (app / ".draft-tasks.toml").write_text(
        "[post-deploy]\n"
        "migrate = \"sh -c 'echo migrated-in-$(hostname) > /tmp/migrated && echo migration done'\"\n"
        "[cleanup]\n"
        "forget = \"sh -c 'echo cleaned > cleanup.txt'\"\n"
    )

    up = cluster_draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert up.returncode == 0, up.stderr
    assert "migration done" in up.stderr
    pod = until(lambda: cluster.ready_pod(namespace, "story"), 30, "a ready pod")
    image = pod.spec.containers[0].image
    assert image.startswith(f"{registry}/story:"), image
    assert cluster.releases(namespace) == ["story"]
    migrated = cluster.exec(namespace, pod.metadata.name, ["cat", "/tmp/migrated"])
    assert migrated.strip() == f"migrated-in-{pod.metadata.name}", "the task ran in the pod"

    connect = cluster_draftd.draft("connect", str(app))
    assert connect.returncode == 0, connect.stderr
    url = connect.stdout.strip()
    assert fetch(url) == "Hello World!"

    status = cluster_draftd.draft("status", str(app), "-o", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["state"] == "running"
    logs = cluster_draftd.draft("logs", str(app))
    assert logs.returncode == 0, logs.stderr
    assert "GET / HTTP" in logs.stdout, "the request through the port-forward is in the pod's log"
    history = json.loads(cluster_draftd.draft("history", str(app), "-o", "json").stdout)
    assert [entry["outcome"] for entry in history] == ["ready"]

    watching = cluster_draftd.draft_background("up", str(app), "--watch")
    try:
        until(lambda: len(cluster.pods(namespace, "story")) >= 1, 30, "the app still running")
        set_greeting(app, "Hello, cluster!")
        wait_for_text(url, "Hello, cluster!", timeout=180)
    finally:
        stop(watching)

    cluster_draftd.stop()
    cluster_draftd.start()  # a new draftd knows nothing in memory: it finds the release
    status = cluster_draftd.draft("status", str(app), "-o", "json")
    assert json.loads(status.stdout)["state"] == "running", status.stdout

    delete = cluster_draftd.draft("delete", str(app))
    assert delete.returncode == 0, delete.stderr
    assert (app / "cleanup.txt").read_text() == "cleaned\n"
    assert cluster.releases(namespace) == []
    until(lambda: not cluster.pods(namespace, "story"), 60, "the app's pods gone")
