"""What each process holds at idle: the `draft up --watch` CLI, draftd deploying to docker and
a language server that has not rendered a chart yet never load Helm's Go runtime
(helm-python-sdk, ≈ 80 MB resident) or the kubernetes client (≈ 40 MB). Each case runs in a
fresh interpreter, so what this test process imported does not count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from draftd.model import AppKey
from draftd.targets.base import TargetUnavailable
from draftd.targets.on_demand import OnDemandTarget

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("helm_python", "kubernetes", "jsonschema", "kubernetes_validate")


def loaded_after(code: str, tmp_path: Path) -> list[str]:
    """Which of HEAVY a fresh interpreter has imported after running `code`."""
    probe = textwrap.dedent(code) + (
        f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-kubeconfig"), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def test_the_watching_cli_loads_no_helm_kubernetes_or_schema_checkers(tmp_path: Path) -> None:
    code = """
        from draft.cli import build_parser
        from draft import watch, client, deploy, config
        build_parser().parse_args(["up", ".", "--watch"])
    """
    assert loaded_after(code, tmp_path) == []


def test_draftd_for_docker_loads_neither_helm_nor_the_kubernetes_client(tmp_path: Path) -> None:
    code = """
        import asyncio
        import draftd.daemon, draftd.api, draftd.pipeline, draftd.sync.live
        import draftd.targets.docker, draftd.docker_builder
        from draftd.targets import on_demand
        kubernetes = on_demand.kubernetes()
        assert asyncio.run(kubernetes.available()) is False  # no kubeconfig: not even loaded
        assert not kubernetes.loaded
    """
    assert loaded_after(code, tmp_path) == []


def test_a_chart_rendered_for_the_language_server_leaves_helm_out_of_it(tmp_path: Path) -> None:
    """Helm renders in its helper process (`draft.helm`): the checking process gets the
    manifests, not Helm's Go runtime."""
    code = f"""
        import shutil
        from pathlib import Path
        import server.app, server.checks
        from draft import helm, packs, scaffold
        app = Path({str(tmp_path / "app")!r})
        shutil.copytree({str(REPO / "examples" / "python")!r}, app)
        scaffold.create(app, packs.find_pack("python"), "app")
        rendered = helm.render(app / "chart", {{}}, release="app", namespace="default")
        assert "templates/deployment.yaml" in rendered, sorted(rendered)
    """
    assert {"helm_python", "kubernetes"}.isdisjoint(loaded_after(code, tmp_path))


@pytest.mark.asyncio
async def test_a_target_that_cannot_load_answers_as_an_absent_one() -> None:
    target = OnDemandTarget("kubernetes", "draftd.no_such_module", "Target", lambda: True)
    assert await target.available() is False
    with pytest.raises(
        TargetUnavailable, match=r"^This draftd cannot deploy to kubernetes\. Its log says why"
    ):
        await target.status(AppKey("app", "development"))
    assert not target.loaded
