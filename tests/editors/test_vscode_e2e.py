"""The VS Code extension in real VS Code: code-server in headless Chromium driven by Playwright
(editors/vscode/test/e2e/run.mjs), with the packaged .vsix, the real draft-ls, a real draftd and
the real Docker engine. "Draft: Create" from the command palette writes the files, they show in
the explorer, saving an edited app.py redeploys, the status bar shows the URL, and the URL
answers the new text. Screenshots land in docs/images/ for the README."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]
from kit import Draftd, free_port, missing

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



def test_create_edit_save_and_see_it_served_in_vscode(
    vscode: None, draftd: Draftd, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", app)
    screenshots = REPO / "docs" / "images"
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
    assert "error" not in seen, f"{seen.get('error')} (status bar: {seen.get('lastStatus')})"
    assert seen["activated"]
    assert any("draft.toml" in row for row in seen["explorer"]) and any(
        "chart" in row for row in seen["explorer"]
    )
    assert (app / "Dockerfile").read_text().startswith("FROM python:3.12-slim")
    assert seen["url"] in seen["statusText"]
    assert seen["served"] == "Hello, VS Code!"
