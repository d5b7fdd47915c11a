"""Tasks in the app's pod (`POST .../exec`, post-deploy tasks) on a real cluster: one past its
time limit is stopped and says so, and it is gone from the pod, its children too, not left
running after draftd answered."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_kit import Cluster
from kit import Draftd, scaffold
from waiting import until

pytestmark = [pytest.mark.cluster, pytest.mark.docker]

LIST_PROCESSES = [
    "python",
    "-c",
    "import glob\n"
    "for path in glob.glob('/proc/[0-9]*/cmdline'):\n"
    "    try:\n"
    "        print(open(path, 'rb').read().replace(b'\\0', b' ').decode())\n"
    "    except OSError:\n"
    "        pass\n",
]


def test_a_task_past_its_time_limit_is_gone_from_the_pod(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    app = scaffold(
        tmp_path / "app", "slow-task", namespace=namespace, registry=registry, target="kubernetes"
    )
    up = cluster_draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert up.returncode == 0, up.stderr
    pod = until(lambda: cluster.ready_pod(namespace, "slow-task"), 30, "a ready pod")

    def running(marker: str) -> list[str]:
        listed = cluster.exec(namespace, pod.metadata.name, LIST_PROCESSES)
        return [line for line in listed.splitlines() if marker in line]

    for command, marker in [
        (["sleep", "3001"], "sleep 3001"),
        (["sh", "-c", "echo started; sleep 3002 & sleep 3002; echo never"], "sleep 3002"),
    ]:
        answer = cluster_draftd.task_past_its_limit("slow-task", command)
        if "started" in command[-1]:
            assert "started" in answer["output"]
        until(
            lambda gone=marker: not running(gone),
            10,
            lambda gone=marker: f"still in the pod: {running(gone)}",
        )
