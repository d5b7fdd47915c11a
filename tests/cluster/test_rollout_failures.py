"""Rollout failures as the real kubelet produces them, each named the way `kubectl describe`
would name it, with the pod's last log lines where the app wrote any: an app that exits
(CrashLoopBackOff), an image that does not exist (ErrImagePull / ImagePullBackOff), a request
for more CPU than the node has (Unschedulable), and a readiness probe that never passes."""

from __future__ import annotations

from pathlib import Path

import pytest
from kit import Draftd, scaffold

pytestmark = [pytest.mark.cluster, pytest.mark.docker]


def up(draftd: Draftd, app: Path) -> tuple[int, str]:
    done = draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stderr


def test_an_app_that_exits_is_crashloopbackoff_with_its_last_lines(
    tmp_path: Path, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    app = scaffold(
        tmp_path / "app", "crasher", namespace=namespace, registry=registry, target="kubernetes"
    )
    (app / "app.py").write_text('print("starting up")\nraise SystemExit("boom: no database")\n')
    code, err = up(cluster_draftd, app)
    assert code == 1
    # Reported as soon as the kubelet sees the exit, not after its first back-off.
    assert "exited with code 1" in err and "CrashLoopBackOff" in err, err
    assert "boom: no database" in err, "the pod's last log lines are shown"


def test_an_image_that_does_not_exist_cannot_be_pulled(
    tmp_path: Path, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    """The chart asks for an image nobody pushed: the node's pull fails."""
    app = scaffold(
        tmp_path / "app", "nopull", namespace=namespace, registry=registry, target="kubernetes"
    )
    template = app / "chart" / "templates" / "deployment.yaml"
    text = template.read_text()
    wanted = '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"'
    assert wanted in text
    template.write_text(text.replace(wanted, f'"{registry}/nobody-pushed-this:1"'))
    code, err = up(cluster_draftd, app)
    assert code == 1
    assert "ErrImagePull" in err or "ImagePullBackOff" in err, err


def test_more_cpu_than_the_node_has_is_unschedulable(
    tmp_path: Path, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    app = scaffold(
        tmp_path / "app", "greedy", namespace=namespace, registry=registry, target="kubernetes",
        set=["resources.requests.cpu=64"],
    )  # fmt: skip
    code, err = up(cluster_draftd, app)
    assert code == 1
    assert "Unschedulable" in err and "Insufficient cpu" in err, err


def test_a_readiness_probe_that_never_passes_is_named(
    tmp_path: Path, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    cluster_draftd.extra_env["DRAFTD_ROLLOUT_TIMEOUT"] = "25"
    cluster_draftd.stop()
    cluster_draftd.start()
    app = scaffold(
        tmp_path / "app", "unready", namespace=namespace, registry=registry, target="kubernetes",
        set=["probes.httpPath=/healthz", "probes.periodSeconds=1", "probes.initialDelaySeconds=0"],
    )  # fmt: skip
    code, err = up(cluster_draftd, app)
    assert code == 1
    # The probe that fails is named, whether the rollout times out waiting for readiness or
    # the liveness probe (the same check) restarts the container into CrashLoopBackOff first.
    assert "probe failed" in err and "404" in err, err
