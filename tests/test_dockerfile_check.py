"""`draft check` says, at the line, where the app's Dockerfile will be refused by the cluster
its chart deploys to: a named or root USER under the chart's runAsNonRoot with no runAsUser
(the kubelet refuses it), a USER other than the chart's runAsUser, an EXPOSE other than the
chart's containerPort. Every built-in pack's Dockerfile agrees with its pack.toml."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from draft import dockerfile, packs, scaffold

REPO = Path(__file__).resolve().parents[1]
PACKS = sorted(p.name for p in (REPO / "packs").iterdir() if (p / "pack.toml").is_file())


def node_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "node", app)
    scaffold.create(app, packs.find_pack("node"), "node-app")
    return app


def draft_check(app: Path) -> tuple[int, list[dict[str, Any]]]:
    result = subprocess.run(
        [sys.executable, "-m", "draft.cli", "check", str(app), "-o", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout)["diagnostics"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def line_of(path: Path, pattern: str) -> int:
    return next(
        i for i, line in enumerate(path.read_text().splitlines()) if re.match(pattern, line)
    )


def test_a_scaffolded_app_has_nothing_to_fix(tmp_path: Path) -> None:
    assert draft_check(node_app(tmp_path)) == (0, [])


def test_a_named_user_without_run_as_user_is_flagged_at_the_user_line(tmp_path: Path) -> None:
    """An app whose chart predates runAsUser (or a team chart) and a Dockerfile naming its
    user: exactly the pod the kubelet refuses with "image has non-numeric user"."""
    app = node_app(tmp_path)
    edit(app / "Dockerfile", "USER 1000:1000", "USER node")
    edit(app / "chart" / "values.yaml", "  runAsUser: 1000\n  runAsGroup: 1000\n", "")
    edit(app / "chart" / "values.yaml", "securityContext:\n", "")
    code, found = draft_check(app)
    assert code == 0, "a warning: the docker target still runs it"
    assert [d["code"] for d in found] == ["dockerfile-user-named"], found
    user_line = line_of(app / "Dockerfile", "USER ")
    assert (found[0]["start"], found[0]["end"]) == (
        {"line": user_line + 1, "column": 6},
        {"line": user_line + 1, "column": 10},
    ), "the user's name, one-based like compilers print"
    assert "non-numeric user" in found[0]["message"] and "USER 1000:1000" in found[0]["message"]
    assert found[0]["severity"] == "warning"


def test_root_or_a_user_other_than_the_charts_is_flagged(tmp_path: Path) -> None:
    app = node_app(tmp_path)
    edit(app / "Dockerfile", "USER 1000:1000", "USER 2000")
    _, found = draft_check(app)
    assert [d["code"] for d in found] == ["dockerfile-user-mismatch"]
    assert "user 1000" in found[0]["message"]

    edit(app / "Dockerfile", "USER 2000", "USER $APP_UID")
    assert draft_check(app) == (0, []), "a variable: the build resolves it, Draft cannot"

    edit(app / "Dockerfile", "USER $APP_UID", "USER root")
    edit(app / "chart" / "values.yaml", "  runAsUser: 1000\n  runAsGroup: 1000\n", "")
    edit(app / "chart" / "values.yaml", "securityContext:\n", "")
    _, found = draft_check(app)
    assert [d["code"] for d in found] == ["dockerfile-user-root"]


def test_an_expose_other_than_the_container_port_is_flagged_at_the_expose_line(
    tmp_path: Path,
) -> None:
    app = node_app(tmp_path)
    edit(app / "Dockerfile", "EXPOSE 3000", "EXPOSE 8080")
    _, found = draft_check(app)
    assert [d["code"] for d in found] == ["dockerfile-port-mismatch"]
    assert found[0]["start"]["line"] == line_of(app / "Dockerfile", "EXPOSE ") + 1
    assert "containerPort is 3000" in found[0]["message"]

    edit(app / "chart" / "values.yaml", "containerPort: 3000", "containerPort: 8080")
    assert draft_check(app) == (0, [])


@pytest.mark.parametrize("name", PACKS)
def test_every_pack_dockerfile_agrees_with_its_pack_toml(name: str) -> None:
    pack = packs.find_pack(name)
    text = (pack.path / "Dockerfile").read_text()
    assert dockerfile.check(pack.path / "Dockerfile", text, dockerfile.pack_facts(pack)) == []


def test_a_pack_with_a_named_user_is_told_against_its_pack_toml(tmp_path: Path) -> None:
    folder = tmp_path / "flask"
    shutil.copytree(REPO / "packs" / "python", folder)
    edit(folder / "Dockerfile", "USER 10001:10001", "USER app")
    edit(folder / "Dockerfile", "EXPOSE 8080", "EXPOSE 5000")
    pack = packs.load_pack(folder, source=str(tmp_path))
    found = dockerfile.check(folder / "Dockerfile", (folder / "Dockerfile").read_text(),
                             dockerfile.PodFacts(True, None, (pack.port,)))  # fmt: skip
    assert sorted(d.code for d in found) == ["dockerfile-port-mismatch", "dockerfile-user-named"]
