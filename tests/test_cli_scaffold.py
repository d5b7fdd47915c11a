"""`draft create`, `draft check` and `draft packs` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from draft.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", root)
    return root


def test_create_twice_never_overwrites_and_says_so(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create", str(app), "--name", "tufted-lamb"]) == 0
    first = capsys.readouterr().out
    assert "Detected python" in first
    assert "wrote    Dockerfile" in first and "wrote    draft.toml" in first
    (app / "Dockerfile").write_text("FROM python:3.12-slim\n# mine\n")
    assert main(["create", str(app)]) == 0
    second = capsys.readouterr().out
    assert "skipped  Dockerfile (it exists)" in second
    assert "wrote" not in second
    assert (app / "Dockerfile").read_text().endswith("# mine\n")
    assert 'name = "tufted-lamb"' in (app / "draft.toml").read_text()


def test_create_generates_a_name_like_the_original(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create", str(app), "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pack"] == "python"
    name = result["app"]
    assert name.count("-") == 1 and name.replace("-", "").isalpha()


def test_create_with_an_unknown_pack_is_one_clear_error(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create", str(app), "--pack", "cobol"]) == 1
    err = capsys.readouterr().err
    assert "cobol" in err and "Traceback" not in err
    assert not (app / "Dockerfile").exists()


def test_check_prints_compiler_style_lines_and_fails_on_errors(
    app: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    main(["create", str(app), "--name", "tufted-lamb"])
    capsys.readouterr()
    monkeypatch.chdir(app)
    assert main(["check"]) == 0
    assert "No problems found." in capsys.readouterr().err
    values = app / "chart" / "values.yaml"
    values.write_text(values.read_text().replace("replicaCount: 1", "replicaCount: three"))
    toml = app / "draft.toml"
    toml.write_text(toml.read_text().replace("watch_delay", "watch_dlay"))
    assert main(["check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        "chart/values.yaml:2:15: error: replicaCount: 'three' is not of type 'integer' [schema]"
        in out
    )
    assert any(line.startswith("draft.toml:") and line.endswith("[unknown-key]") for line in out)


def test_check_json_lists_diagnostics(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["create", str(app), "--name", "tufted-lamb"])
    capsys.readouterr()
    (app / "chart" / "values.yaml").write_text("replicaCount: [\n")
    assert main(["check", str(app), "-o", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["errors"] == 1
    assert result["diagnostics"][0]["code"] == "yaml-syntax"


def test_check_without_draft_toml_says_what_to_do(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(app)]) == 1
    err = capsys.readouterr().err
    assert "draft.toml" in err and "draft create" in err


def test_packs_lists_team_packs_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    team = tmp_path / "team" / "python"
    shutil.copytree(REPO / "packs" / "python", team)
    (team / "pack.toml").write_text(
        (team / "pack.toml").read_text().replace("Python apps", "Our Python apps")
    )
    monkeypatch.setenv("DRAFT_PACKS_PATH", str(tmp_path / "team"))
    assert main(["packs", "-o", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    python = [p for p in listed if p["name"] == "python"]
    assert len(python) == 1 and python[0]["description"].startswith("Our Python apps")
