"""Every built-in pack: `draft create` on its example app picks it, writes files that work without
edits, and its chart renders valid Kubernetes and lints clean in strict mode through Helm's engine.
(Building each language's image needs its official base image; CI builds python's, through a
local stand-in. The Dockerfiles' shape is checked here.)"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from draft import chart, detect, helm, packs, scaffold

REPO = Path(__file__).resolve().parents[1]
PACKS = sorted(p.name for p in (REPO / "packs").iterdir() if (p / "pack.toml").is_file())
EXPECTED = {
    "python", "node", "go", "java", "gradle", "ruby", "php", "csharp", "rust", "swift",
    "clojure", "erlang", "elixir",
}  # fmt: skip


def test_the_thirteen_packs_are_there() -> None:
    assert set(PACKS) == EXPECTED
    assert all((REPO / "examples" / name).is_dir() for name in PACKS)


@pytest.mark.parametrize("name", PACKS)
def test_dockerfile_uses_pinned_official_images_a_non_root_user_and_the_port(name: str) -> None:
    pack = packs.load_pack(REPO / "packs" / name)
    dockerfile = (pack.path / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert froms, "a Dockerfile needs a base image"
    for image in froms:
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), (
            f"{image} is not pinned"
        )
        assert image in pack.images, f"{image} is missing from pack.toml's images"
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the app must not run as root"
    assert re.findall(r"^EXPOSE\s+(\d+)", dockerfile, re.MULTILINE)[-1] == str(pack.port)
    if len(froms) > 1:
        assert " AS " in dockerfile, "a multi-stage build names its stages"
    ignored = (pack.path / ".dockerignore").read_text().splitlines()
    assert "chart/" in ignored and "draft.toml" in ignored, "deploy files must not change the image"


@pytest.mark.parametrize("name", PACKS)
def test_create_on_the_example_detects_the_pack_and_the_chart_is_valid(
    name: str, tmp_path: Path
) -> None:
    app = tmp_path / name
    shutil.copytree(REPO / "examples" / name, app)
    detection = detect.best(app)
    assert detection.pack.name == name, detection
    result = scaffold.create(app, detection.pack, f"{name}-app")
    assert {"Dockerfile", ".dockerignore", "draft.toml", "chart/Chart.yaml"} <= {
        str(p) for p in result.written
    }

    chart_dir = app / "chart"
    assert chart.check_values(chart_dir, release=f"{name}-app", namespace="default") == []
    findings = [f for f in helm.lint(chart_dir) if f.severity <= 2]
    assert findings == [], findings
    manifests = helm.render(chart_dir, {}, release=f"{name}-app", namespace="default")
    deployment = manifests["templates/deployment.yaml"]
    assert f"containerPort: {detection.pack.port}" in deployment
    assert "readinessProbe" in deployment and "livenessProbe" in deployment
