"""Draft's home: user-level defaults (`draft config`), team pack repositories (`draft pack-repo`)
from a local git repository (a file path, never the network), `draft home` and `draft version`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from draft import deploy, detect, packs
from draft.cli import main
from draft.client import configured_token, configured_url
from draft.config import load
from draftd.daemon import parse_args

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def draft_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DRAFT_HOME", str(home))
    monkeypatch.delenv("DRAFT_PACKS_PATH", raising=False)
    monkeypatch.delenv("DRAFT_DAEMON_URL", raising=False)
    monkeypatch.setenv("DRAFTD_STATE", str(tmp_path / "state"))
    return home


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_home_is_draft_home(capsys: pytest.CaptureFixture[str], draft_home: Path) -> None:
    assert run(capsys, "home")[1].strip() == str(draft_home)


def test_draftd_state_is_in_draft_home_for_draftd_the_client_and_draft_home(
    capsys: pytest.CaptureFixture[str], draft_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRAFTD_STATE")
    monkeypatch.delenv("DRAFTD_TOKEN", raising=False)
    state = draft_home / "draftd"
    assert json.loads(run(capsys, "home", "-o", "json")[1])["draftdState"] == str(state)
    assert parse_args([]).state_dir == state, "draftd keeps its state there"
    state.mkdir(parents=True)
    (state / "draftd.json").write_text('{"url": "http://127.0.0.1:7999"}')
    (state / "token").write_text("secret\n")
    assert configured_url() == "http://127.0.0.1:7999", "the client finds draftd there"
    assert configured_token("http://127.0.0.1:7999") == "secret", "and its token"


def test_config_set_get_list_unset(capsys: pytest.CaptureFixture[str], draft_home: Path) -> None:
    assert run(capsys, "config", "set", "registry", "127.0.0.1:5000")[0] == 0
    assert run(capsys, "config", "get", "registry")[1].strip() == "127.0.0.1:5000"
    code, _, err = run(capsys, "config", "set", "registry", "https://ghcr.io/me")
    assert code == 1 and "not a URL" in err
    code, _, err = run(capsys, "config", "set", "target", "moon")
    assert code == 1 and "target must be one of" in err
    listed = json.loads(run(capsys, "config", "list", "-o", "json")[1])
    assert listed == {"registry": "127.0.0.1:5000"}
    assert run(capsys, "config", "unset", "registry")[0] == 0
    assert run(capsys, "config", "get", "registry")[0] == 1
    assert (draft_home / "config.toml").exists()


def test_user_defaults_apply_where_draft_toml_does_not_say(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", app)
    run(capsys, "create", str(app), "--name", "defaults-app")
    run(capsys, "config", "set", "registry", "127.0.0.1:5000")
    run(capsys, "config", "set", "target", "docker")
    body, _ = deploy.build_request(app, load(app), "command", None)
    assert body["settings"]["registry"] == "127.0.0.1:5000"
    assert body["settings"]["target"] == "docker"
    toml = app / "draft.toml"
    toml.write_text(toml.read_text().replace('registry = ""', 'registry = "ghcr.io/team"'))
    body, _ = deploy.build_request(app, load(app), "command", None)
    assert body["settings"]["registry"] == "ghcr.io/team", "draft.toml wins"


def test_version_says_when_draftd_is_not_reachable(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "config", "set", "daemon_url", "http://127.0.0.1:9")
    code, out, _ = run(capsys, "version")
    assert code == 0
    assert out.splitlines()[0].startswith("draft   0.")
    assert "not reachable at http://127.0.0.1:9" in out


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def commit_all(repo: Path, message: str) -> None:
    """Commit everything in `repo`, as someone with a throwaway identity."""
    who = ("-c", "user.email=t@example.invalid", "-c", "user.name=t")
    git(*who, "add", ".", cwd=repo)
    git(*who, "commit", "-q", "-m", message, cwd=repo)


@pytest.fixture
def team_repo(tmp_path: Path) -> Path:
    """A local git repository with packs/flask: the python pack, as a team would adapt it."""
    repo = tmp_path / "team-packs"
    pack = repo / "packs" / "flask"
    shutil.copytree(REPO / "packs" / "python", pack)
    text = (
        (pack / "pack.toml")
        .read_text()
        .replace('name = "python"', 'name = "flask"')
        .replace('title = "Python"', 'title = "Flask"')
    )
    (pack / "pack.toml").write_text(text)
    git("init", "-q", "-b", "main", cwd=repo)
    commit_all(repo, "flask pack")
    return repo


def test_a_pack_repository_is_listed_chosen_wins_detection_updates_and_goes(
    capsys: pytest.CaptureFixture[str], team_repo: Path, tmp_path: Path, draft_home: Path
) -> None:
    code, out, _ = run(capsys, "pack-repo", "add", f"file://{team_repo}", "--name", "team")
    assert code == 0 and "flask" in out
    assert (draft_home / "pack-repos" / "team" / "packs" / "flask" / "pack.toml").is_file()
    listed = json.loads(run(capsys, "packs", "-o", "json")[1])
    flask = next(p for p in listed if p["name"] == "flask")
    assert flask["source"] == "pack-repo:team"
    assert [p["name"] for p in listed].index("flask") < [p["name"] for p in listed].index("python")

    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", app)
    assert detect.best(app).pack.name == "flask", "the team's pack wins over the built-in one"
    code, out, _ = run(capsys, "create", str(app), "--pack", "flask", "--name", "team-app")
    assert code == 0 and "from the flask pack" in out

    node = team_repo / "packs" / "node-team"
    shutil.copytree(REPO / "packs" / "node", node)
    (node / "pack.toml").write_text(
        (node / "pack.toml").read_text().replace('name = "node"', 'name = "node-team"')
    )
    commit_all(team_repo, "node pack")
    assert "node-team" not in [p.name for p in packs.all_packs()]
    assert run(capsys, "pack-repo", "update")[0] == 0
    assert "node-team" in [p.name for p in packs.all_packs()]
    assert "node-team" in run(capsys, "pack-repo", "list")[1]

    assert run(capsys, "pack-repo", "remove", "team")[0] == 0
    assert "flask" not in [p.name for p in packs.all_packs()]
    assert not (draft_home / "pack-repos" / "team").exists()
    code, _, err = run(capsys, "pack-repo", "remove", "team")
    assert code == 1 and "no pack repository named team" in err


def test_a_repository_without_packs_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "pack-repo", "add", str(empty))
    assert code == 1 and "has no packs/ folder" in err
