"""Write when the editors start draft-ls from what it acts on, so they cannot drift
(tests/test_editor_activation.py fails when they do):

- VS Code's `activationEvents` (editors/vscode/package.json): `draft.toml` anywhere in the
  workspace (an app to check and deploy on save), `Chart.yaml` anywhere (a chart whose values
  are checked), and every marker file of the built-in packs' `[detect] files`
  (packs/*/pack.toml) at the root of a workspace folder or as deep below it as detection
  takes markers as evidence (`detect.MARKER_DEPTH`): a folder the create code action is
  offered in;
- Neovim's `root_markers` (editors/neovim/lua/draft/init.lua): the same marker names (Neovim
  takes names, not globs like `*.csproj`), then `.git`.

Folders that only hold source files (a few `.py` files, no marker) do not activate VS Code's
extension: that would start draft-ls in nearly every workspace; there, any Draft command
activates it. Only those two lists are rewritten; the rest of each file stays as written.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

from draft import detect, packs

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "editors" / "vscode" / "package.json"
NEOVIM = REPO / "editors" / "neovim" / "lua" / "draft" / "init.lua"


def markers() -> list[str]:
    """The built-in packs' marker files, in pack order, each once."""
    found: list[str] = []
    for pack in packs.packs_in(packs.builtin_packs_dir(), "builtin"):
        found += [f for f in pack.detect.files if f not in found]
    return found


def activation_events() -> list[str]:
    """`**` for Draft's own files; each marker at every depth detection looks at, and no
    deeper (`**/package.json` would match every vendored package)."""
    levels = ["*/" * depth for depth in range(detect.MARKER_DEPTH + 1)]
    deep = [level + marker for marker in markers() for level in levels]
    return [f"workspaceContains:{p}" for p in ["**/draft.toml", "**/Chart.yaml", *deep]]


def root_markers() -> list[str]:
    names = [m for m in markers() if not any(c in m for c in "*?[")]
    return ["draft.toml", "chart", *names, ".git"]


def _replace(path: Path, pattern: str, render: Callable[[str], str]) -> None:
    text = path.read_text()
    match = re.compile(pattern, re.S | re.M).search(text)
    assert match, f"{path} has no block matching {pattern}"
    path.write_text(text[: match.start()] + render(match["indent"]) + text[match.end() :])


def main() -> None:
    def package_block(indent: str) -> str:
        lines = ",\n".join(f"{indent}  {json.dumps(e)}" for e in activation_events())
        return f'{indent}"activationEvents": [\n{lines}\n{indent}]'

    def lua_block(indent: str) -> str:
        items = " ".join(json.dumps(m) + "," for m in root_markers())
        body = textwrap.fill(
            items, 100, initial_indent=indent + "  ", subsequent_indent=indent + "  "
        )
        return f"{indent}root_markers = {{\n{body}\n{indent}}},"

    _replace(PACKAGE, r'^(?P<indent>[ \t]*)"activationEvents": \[.*?\n(?P=indent)\]', package_block)
    _replace(NEOVIM, r"^(?P<indent>[ \t]*)root_markers = \{.*?\n(?P=indent)\},", lua_block)
    print(f"wrote the activation events of {PACKAGE} and the root markers of {NEOVIM}")


if __name__ == "__main__":
    main()
