"""The VS Code extension in real VS Code: code-server in headless Chromium driven by Playwright
(editors/vscode/test/e2e/run.mjs), with the packaged .vsix, the real draft-ls, a real draftd and
the real Docker engine. A new user opens app.py, creates with the code action (Source Action…)
or the command palette's "Draft: Create"; the files are written, no editor is left unsaved, the
next step is shown; one save of an edited app.py deploys it, the status bar shows the URL, and
the URL answers the new text; Undo still takes the create back. The code action's screenshots
land in docs/images/ for the README."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kit import Draftd, missing

REPO = Path(__file__).resolve().parents[2]
TOOLS = Path(
    os.environ.get(
        "DRAFT_EDITORS_DIR",
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "draft" / "editors",
    )
)
CODE_SERVER = TOOLS / "node_modules" / ".bin" / "code-server"
PLAYWRIGHT = TOOLS / "node_modules" / "playwright-core"
VSIX = REPO / "editors" / "vscode" / "draft.vsix"
NODE = Path(sys.executable).parent / "node"

pytestmark = pytest.mark.docker


@pytest.fixture
def vscode() -> None:
    absent = [
        str(p)
        for p in (CODE_SERVER, PLAYWRIGHT, VSIX, NODE, Path("/usr/bin/chromium"))
        if not p.exists()
    ]
    if absent:
        missing(
            f"code-server, playwright-core, Chromium, Node 24 and the built .vsix; missing: {absent}",
            "bash scripts/setup-editors.sh",
        )


@pytest.mark.parametrize("create_with", ["action", "palette"])
def test_create_then_one_save_of_app_py_is_served_in_vscode(
    vscode: None, draftd: Draftd, tmp_path: Path, create_with: str
) -> None:
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", app)
    screenshots = REPO / "docs" / "images" if create_with == "action" else tmp_path / "shots"
    screenshots.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{NODE.parent}:{os.environ['PATH']}",
        "CODE_SERVER": str(CODE_SERVER),
        "VSIX": str(VSIX),
        "APP": str(app),
        "DRAFT_LS": str(Path(sys.executable).parent / "draft-ls"),
        "DAEMON_URL": draftd.url,
        "DRAFTD_STATE": str(draftd.state),  # where draft-ls finds draftd's token
        "WORK": str(tmp_path / "vscode"),
        "PLAYWRIGHT": str(PLAYWRIGHT),
        "SCREENSHOTS": str(screenshots),
        "CREATE_WITH": create_with,
    }
    completed = subprocess.run(
        [str(NODE), str(REPO / "editors" / "vscode" / "test" / "e2e" / "run.mjs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    assert lines, completed.stdout[-2000:] + completed.stderr[-2000:]
    seen = json.loads(lines[-1])
    builds = [
        b for f in (draftd.state / "history").glob("*/*.jsonl") for b in f.read_text().splitlines()
    ]
    assert "error" not in seen, (
        f"{seen.get('error')} (status bar: {seen.get('lastStatus')}; "
        f"notifications: {seen.get('notifications')}; builds: {builds})"
    )
    assert seen["activated"]
    offered = {
        "action": "Draft: create Dockerfile, chart and draft.toml",
        "palette": "Draft: Create",
    }
    assert any(offered[create_with] in o for o in seen["offered"]), seen["offered"]
    assert any("draft.toml" in row for row in seen["explorer"]) and any(
        "chart" in row for row in seen["explorer"]
    )
    assert seen["dockerfile"].startswith("FROM python:3.12-slim")
    assert seen["dirtyTabs"] == [], "the files the create made are saved"
    assert "from the python pack — save a file to deploy it, or run Draft: Up." in seen["next"]
    assert "http" not in seen["statusBeforeSave"], "creating deployed nothing"
    assert seen["url"] in seen["statusText"]
    assert seen["served"] == "Hello, VS Code!"
    # Undo takes the create back: the whole edit after the code action; after Draft: Create,
    # applied file by file, the file it is done in.
    assert "draft.toml" not in seen["remainingAfterUndo"]
    if create_with == "action":
        assert seen["remainingAfterUndo"] == [], "Undo of the code action removes its files"
