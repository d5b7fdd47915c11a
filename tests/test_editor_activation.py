"""The editors start draft-ls where it can act: VS Code's activation events and Neovim's root
markers are generated from the packs' detection files (scripts/gen-editor-activation.py); this
fails when a pack gains a marker file and nobody regenerates them."""

from __future__ import annotations

import fnmatch
import json
import runpy
from pathlib import Path

from draft import detect, packs

REPO = Path(__file__).resolve().parents[1]
GENERATOR = runpy.run_path(str(REPO / "scripts" / "gen-editor-activation.py"))
PACKAGE = REPO / "editors" / "vscode" / "package.json"
NEOVIM = REPO / "editors" / "neovim" / "lua" / "draft" / "init.lua"


def test_the_editors_lists_are_up_to_date(tmp_path: Path, monkeypatch) -> None:
    committed = {PACKAGE: PACKAGE.read_text(), NEOVIM: NEOVIM.read_text()}
    copies = {path: tmp_path / path.name for path in committed}
    for path, copy in copies.items():
        copy.write_text(committed[path])
    monkeypatch.setitem(GENERATOR["main"].__globals__, "PACKAGE", copies[PACKAGE])
    monkeypatch.setitem(GENERATOR["main"].__globals__, "NEOVIM", copies[NEOVIM])
    GENERATOR["main"]()
    for path, copy in copies.items():
        assert copy.read_text() == committed[path], "run: python scripts/gen-editor-activation.py"


def test_every_folder_the_create_action_is_offered_in_by_a_marker_activates_vscode(
    tmp_path: Path,
) -> None:
    """One folder per marker file of every pack (setup.py, Pipfile, App.sln, settings.gradle…):
    the server detects a pack there, and a VS Code activation event matches it."""
    events = json.loads(PACKAGE.read_text())["activationEvents"]
    globs = [e.removeprefix("workspaceContains:") for e in events]
    neovim = NEOVIM.read_text()
    for pack in packs.packs_in(packs.builtin_packs_dir(), "builtin"):
        for marker in pack.detect.files:
            name = marker.replace("*", "App")
            for depth in range(detect.MARKER_DEPTH + 1):
                folder = tmp_path / f"{pack.name}-{name}-{depth}"
                relative = "/".join([*(f"d{n}" for n in range(depth)), name])
                (folder / relative).parent.mkdir(parents=True)
                (folder / relative).write_text("\n")
                assert detect.detect(folder), f"{relative}: the server offers no create action"
                assert any(vscode_matches(g, relative) for g in globs), (
                    f"{relative} does not activate VS Code"
                )
            if "*" not in marker:
                assert f'"{marker}",' in neovim, f"{marker} is not a Neovim root marker"
    assert "workspaceContains:**/draft.toml" in events
    too_deep = "/".join([*(f"d{n}" for n in range(detect.MARKER_DEPTH + 1)), "package.json"])
    assert not any(vscode_matches(g, too_deep) for g in globs), "a vendored marker activates"


def vscode_matches(glob: str, path: str) -> bool:
    """VS Code's `workspaceContains` glob against a relative path: `*` within one folder,
    `**/` any folders."""
    if glob.startswith("**/"):
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], glob[3:])
    parts, names = glob.split("/"), path.split("/")
    return len(parts) == len(names) and all(map(fnmatch.fnmatchcase, names, parts))
