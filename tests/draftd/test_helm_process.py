"""Helm's helper process as the kubernetes target uses it: Helm's own words come back as a
`HelmReleaseFailed`, a helper that left idle is started again without the caller noticing,
and draftd's process itself never loads Helm's Go runtime. (Releases on a real cluster:
tests/cluster.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from waiting import until

from draftd.targets.helm_process import HelmProcess
from draftd.targets.helm_release import Cluster, HelmReleaseFailed


def test_helm_errors_come_back_in_helms_words_and_an_idle_helper_comes_back(
    tmp_path: Path,
) -> None:
    missing = Cluster(str(tmp_path / "no-kubeconfig"))
    helm = HelmProcess(idle_exit=0.3)
    try:
        with pytest.raises(HelmReleaseFailed, match=r"^Helm could not read app: .*no-kubeconfig"):
            helm.status(missing, release="app", namespace="default")
        assert helm.helper.running
        # The helper leaves after 0.3 s without a request.
        until(lambda: not helm.helper.running, 5, "the helper did not leave idle")
        with pytest.raises(HelmReleaseFailed, match=r"^Helm could not read app: "):
            helm.status(missing, release="app", namespace="default")
        assert helm.find_namespace(missing, "app") is None
    finally:
        helm.stop()


def test_the_target_process_never_imports_helm(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from draftd.targets.helm_process import HelmProcess\n"
        "from draftd.targets.helm_release import Cluster\n"
        f"print(HelmProcess().find_namespace(Cluster({str(tmp_path / 'none')!r}), 'app'))\n"
        "print('helm_python' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["None", "False"]


def test_a_build_for_the_cluster_brings_back_a_helper_that_left(tmp_path: Path) -> None:
    """What the kubernetes target's `prepare` does while an image builds: the helper that
    left idle is running again, Helm's engine loaded, before the deploy asks it anything."""
    helm = HelmProcess(idle_exit=0.3)
    try:
        helm.warm()
        assert helm.helper.running
        until(lambda: not helm.helper.running, 5, "the helper did not leave idle")
        helm.warm()
        assert helm.helper.running
        missing = Cluster(str(tmp_path / "no-kubeconfig"))
        with pytest.raises(HelmReleaseFailed, match=r"^Helm could not read app: "):
            helm.status(missing, release="app", namespace="default")
    finally:
        helm.stop()
