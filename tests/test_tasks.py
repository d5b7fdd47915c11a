"""`.draft-tasks.toml`: its mistakes are diagnostics at their place, like draft.toml's, and
`draft check` reports them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from draft import tasks
from draft.cli import main

REPO = Path(__file__).resolve().parents[1]


def codes(text: str) -> list[tuple[str, int, int]]:
    return [
        (d.code, d.range.start.line, d.range.start.character) for d in tasks.parse(text).diagnostics
    ]


def test_a_good_file_gives_tasks_in_order() -> None:
    parsed = tasks.parse(
        '[pre-up]\ngen = "python gen.py --out src"\n[post-deploy]\nmigrate = "sh -c \'echo ok\'"\n[cleanup]\nbye = "rm -f x"\n'
    )
    assert parsed.diagnostics == ()
    assert [t.command for t in parsed.pre_up] == [("python", "gen.py", "--out", "src")]
    assert [t.command for t in parsed.post_deploy] == [("sh", "-c", "echo ok")]
    assert [t.name for t in parsed.cleanup] == ["bye"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[pre-deploy]\nx = "true"\n', [("unknown-stage", 0, 1)]),
        ("[pre-up]\nx = 3\n", [("wrong-type", 1, 4)]),
        ('[pre-up]\nx = "echo \'unclosed"\n', [("invalid-command", 1, 4)]),
        ('[pre-up]\nx = ""\n', [("invalid-command", 1, 4)]),
        ('[pre-up]\nx = "true\n', [("toml-syntax", 1, 9)]),
    ],
)
def test_mistakes_are_reported_where_they_are(
    text: str, expected: list[tuple[str, int, int]]
) -> None:
    assert codes(text) == expected


def test_draft_check_reports_the_tasks_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", app)
    main(["create", str(app), "--name", "tasks-app"])
    (app / ".draft-tasks.toml").write_text("[post-deploy]\nmigrate = 3\n")
    capsys.readouterr()
    monkeypatch.chdir(app)
    assert main(["check"]) == 1
    assert (
        ".draft-tasks.toml:2:11: error: task 'migrate' must be a command string [wrong-type]"
        in capsys.readouterr().out
    )


def test_deeply_nested_values_are_a_diagnostic() -> None:
    assert codes("[pre-up]\nx = " + "[" * 5000 + "]" * 5000 + "\n")[0][0] == "too-deep"
