"""Detection: `draft create` picks the right pack from what is in the folder, with its evidence,
and ignores what is vendored, generated or git-ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from draft import detect, packs
from draft.errors import DetectionError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(
    p.name for p in (REPO / "examples").iterdir() if (REPO / "packs" / p.name).is_dir()
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def make_pack(folder: Path, name: str, markers: list[str], extensions: list[str]) -> packs.Pack:
    folder.mkdir(parents=True)
    quoted = lambda items: ", ".join(f'"{i}"' for i in items)  # noqa: E731
    (folder / "pack.toml").write_text(
        f'name = "{name}"\ndescription = "{name} apps"\nport = 8080\nimages = ["x:1"]\n'
        f"[detect]\nfiles = [{quoted(markers)}]\nextensions = [{quoted(extensions)}]\n"
    )
    return packs.load_pack(folder, source=str(folder.parent))


@pytest.fixture
def go_and_node(tmp_path: Path) -> list[packs.Pack]:
    return [
        make_pack(tmp_path / "packs" / "go", "go", ["go.mod"], [".go"]),
        make_pack(tmp_path / "packs" / "node", "node", ["package.json"], [".js", ".ts"]),
    ]


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_detects_its_own_pack(example: str) -> None:
    found = detect.best(REPO / "examples" / example)
    assert found.pack.name == example
    assert found.evidence


def test_python_evidence_names_the_marker_and_the_share() -> None:
    found = detect.best(REPO / "examples" / "python")
    assert found.evidence == ("requirements.txt at the root", "100% of source bytes are .py")
    assert detect.label(found) == "Python"


def test_a_go_service_with_node_modules_and_docs_is_go(
    tmp_path: Path, go_and_node: list[packs.Pack]
) -> None:
    app = write(
        tmp_path / "app",
        {"go.mod": "module x\n", "main.go": "package main\n", "docs/guide.md": "# x\n" * 100},
    )
    for index in range(30):
        write(app, {f"node_modules/lib{index}/index.js": "x" * 5000})
    ranked = detect.detect(app, go_and_node)
    assert [d.pack.name for d in ranked] == ["go"]


def test_a_git_ignored_folder_does_not_win(tmp_path: Path, go_and_node: list[packs.Pack]) -> None:
    app = write(tmp_path / "app", {"main.go": "package main\n", ".gitignore": "generated/\n"})
    write(app, {"generated/package.json": "{}", "generated/big.js": "x" * 100_000})
    assert detect.best(app, go_and_node).pack.name == "go"
    (app / ".gitignore").unlink()
    assert detect.best(app, go_and_node).pack.name == "node"


def test_a_nested_gitignore_applies_below_its_folder(
    tmp_path: Path, go_and_node: list[packs.Pack]
) -> None:
    app = write(tmp_path / "app", {"main.go": "package main\n", "web/.gitignore": "*.js\n"})
    write(app, {"web/bundle.js": "x" * 100_000})
    assert [d.pack.name for d in detect.detect(app, go_and_node)] == ["go"]


def test_virtualenvs_are_skipped_whatever_their_name(
    tmp_path: Path, go_and_node: list[packs.Pack]
) -> None:
    app = write(tmp_path / "app", {"server.js": "x", "package.json": "{}", "myenv/pyvenv.cfg": ""})
    write(app, {"myenv/lib/site.py": "x" * 100_000, "myenv/requirements.txt": ""})
    candidates = [*go_and_node, packs.find_pack("python")]
    assert [d.pack.name for d in detect.detect(app, candidates)] == ["node"]


def test_an_empty_folder_names_the_packs_and_the_flag(tmp_path: Path) -> None:
    with pytest.raises(DetectionError) as caught:
        detect.best(tmp_path)
    assert "No pack matches" in caught.value.message
    assert "--pack" in caught.value.hint
    assert "python" in caught.value.hint


def test_a_team_pack_first_on_the_path_wins_a_tie(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = tmp_path / "team"
    make_pack(team / "flask-team", "flask-team", ["requirements.txt"], [".py"])
    monkeypatch.setenv(packs.PACKS_PATH_ENV, str(team))
    found = detect.detect(REPO / "examples" / "python")
    assert [d.pack.name for d in found[:2]] == ["flask-team", "python"]


def test_symlink_loops_do_not_hang(tmp_path: Path) -> None:
    app = write(tmp_path / "app", {"app.py": "print(1)\n", "requirements.txt": ""})
    (app / "loop").symlink_to(app)
    assert detect.best(app).pack.name == "python"
