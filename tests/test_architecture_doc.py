"""docs/architecture.md's table "Where each module is tested" stays whole: every module of
draft/, server/ and draftd/ has a row, every path the table cites exists, and every test file
is cited in it. This fails when a module or a test is added, moved or renamed and nobody says
where it is tested.

A cell lists paths separated by commas; a bare file name (`names.py`) is in the folder of the
path before it in the same cell (`draft/scaffold.py`, `names.py` is draft/names.py).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
HEADING = "## Where each module is tested"
PACKAGES = ("draft", "server", "draftd")
PATH = re.compile(r"[\w./-]+")


def table() -> list[tuple[list[str], list[str]]]:
    """The table's rows: the paths of the first column and of the second."""
    text = DOC.read_text()
    assert HEADING in text, f"docs/architecture.md has no section {HEADING!r}"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 2 or set(cells[0]) <= {"-"}:
            continue
        if cells == ["module", "tests"]:
            continue
        rows.append((paths(cells[0], backticked=True), paths(cells[1], backticked=False)))
    assert rows, "the table has no rows"
    return rows


def paths(cell: str, *, backticked: bool) -> list[str]:
    """The repository paths a cell names: in backticks in the module column; in the tests
    column every word that has a "/" or ends in ".py" (prose between them is skipped)."""
    words = re.findall(r"`([^`]+)`", cell) if backticked else PATH.findall(cell)
    found: list[str] = []
    folder = ""
    for word in words:
        if "/" in word:
            found.append(word)
            folder = str(PurePosixPath(word).parent) if not word.endswith("/") else word
        elif word.endswith((".py", ".sh")) and folder:
            found.append(f"{folder.rstrip('/')}/{word}")
    return found


def modules() -> set[str]:
    """Every module of the three packages, but an `__init__.py` with no code of its own."""
    found = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if path.name == "__init__.py" and not has_code(path):
                continue
            found.add(path.relative_to(REPO).as_posix())
    return found


def has_code(path: Path) -> bool:
    """Whether a module defines a function or a class (a package's docstring or its
    `__version__` is not something to test)."""
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for node in tree.body
    )


def test_every_module_has_a_row() -> None:
    cited = {path for row_modules, _ in table() for path in row_modules}
    missing = sorted(modules() - cited)
    assert not missing, f"no row in docs/architecture.md's test table for: {missing}"


def test_every_path_the_table_cites_exists() -> None:
    gone = sorted(
        {path for row in table() for path in (*row[0], *row[1]) if not (REPO / path).exists()}
    )
    assert not gone, f"docs/architecture.md's test table cites what does not exist: {gone}"


def test_every_row_cites_a_test() -> None:
    bare = [row_modules for row_modules, tests in table() if not tests]
    assert not bare, f"rows with no test: {bare}"


def test_every_test_file_is_cited() -> None:
    """By its own path: a folder cited ("every test in tests/cluster/") does not count, or a
    test added there later would never be placed."""
    cited = {path for _, tests in table() for path in tests}
    uncited = sorted(
        path
        for test in (REPO / "tests").rglob("test_*.py")
        if (path := test.relative_to(REPO).as_posix()) not in cited
    )
    assert not uncited, f"test files docs/architecture.md's test table never cites: {uncited}"
