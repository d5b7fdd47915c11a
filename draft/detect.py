"""Which pack fits an app: ranked candidates, each with the evidence that chose it.

Two kinds of evidence, both read from the packs' own `[detect]` rules so a team
pack detects like a built-in one:

- marker files (`go.mod`, `package.json`, `*.csproj`…): strong, and stronger the
  closer they sit to the app's root;
- the share of source bytes per extension: what the app is mostly written in.

The walk honours `.gitignore` files and skips vendored and generated folders, so
a Go service with a `node_modules/` full of JavaScript is still a Go service.
"""

from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from draft import packs as packs_module
from draft.errors import DetectionError
from draft.packs import Pack

SKIPPED_FOLDERS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", "bower_components", "vendor", "venv", ".venv",
        "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "target",
        "build", "dist", "out", "_build", "deps", ".gradle", ".idea", ".vscode", "Pods",
        ".build", "bin", "obj", ".next", ".cache", "coverage", "chart", "charts",
    }
)  # fmt: skip
MAX_DEPTH = 12
MARKER_DEPTH = 3
"""Marker files deeper than this (a vendored package.json, say) are not evidence."""
MARKER_AT_ROOT = 100.0
MARKER_DEEPER = 30.0
SHARE_WEIGHT = 50.0


_Ignore = tuple[str, pathspec.GitIgnoreSpec]
"""A .gitignore's rules and the folder (relative to the root) they apply under."""


@dataclass(frozen=True)
class Detection:
    pack: Pack
    score: float
    evidence: tuple[str, ...]


@dataclass
class _Survey:
    """What the walk found: marker files by depth, and source bytes by extension."""

    shallowest: dict[str, int]
    """File name → the smallest depth it was seen at (0: the root), for marker files."""
    bytes_by_extension: dict[str, int]

    def marker_depth(self, pattern: str) -> int | None:
        """The smallest depth of a file named like `pattern` (a name or a glob like *.csproj)."""
        if not any(c in pattern for c in "*?["):
            return self.shallowest.get(pattern)
        depths = [d for name, d in self.shallowest.items() if fnmatch.fnmatchcase(name, pattern)]
        return min(depths, default=None)


def detect(root: Path, packs: Sequence[Pack] | None = None) -> list[Detection]:
    """Candidates for `root`, best first; empty when nothing matches."""
    available = list(packs) if packs is not None else packs_module.all_packs()
    survey = _survey(root)
    total = sum(survey.bytes_by_extension.get(e, 0) for p in available for e in p.detect.extensions)
    ranked: list[tuple[float, int, Detection]] = []
    for order, pack in enumerate(available):
        score, evidence = _score(pack, survey, total)
        if score > 0:
            ranked.append((-score, order, Detection(pack, round(score, 2), tuple(evidence))))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [detection for _, _, detection in ranked]


def best(root: Path, packs: Sequence[Pack] | None = None) -> Detection:
    """The best candidate, or a `DetectionError` that says what to do."""
    found = detect(root, packs)
    if found:
        return found[0]
    names = ", ".join(p.name for p in (packs or packs_module.all_packs()))
    raise DetectionError(
        f"No pack matches the app in {root}: no marker file or source file of a known language.",
        f"Choose one with `draft create --pack NAME`; the packs are: {names}.",
    )


def label(detection: Detection) -> str:
    """The language as people say it, for titles like "(Python detected)"."""
    return detection.pack.title


def _score(pack: Pack, survey: _Survey, total: int) -> tuple[float, list[str]]:
    score = 0.0
    evidence: list[str] = []
    for pattern in pack.detect.files:
        shallowest = survey.marker_depth(pattern)
        if shallowest is None:
            continue
        if shallowest == 0:
            score += MARKER_AT_ROOT
            evidence.append(f"{pattern} at the root")
        else:
            score += MARKER_DEEPER / shallowest
            evidence.append(f"{pattern} {shallowest} folder(s) down")
    mine = sum(survey.bytes_by_extension.get(e, 0) for e in pack.detect.extensions)
    if mine and total:
        share = mine / total
        score += SHARE_WEIGHT * share
        extensions = "/".join(e for e in pack.detect.extensions if survey.bytes_by_extension.get(e))
        evidence.append(f"{share:.0%} of source bytes are {extensions}")
    return score, evidence


def _survey(root: Path) -> _Survey:
    shallowest: dict[str, int] = {}
    sizes: dict[str, int] = defaultdict(int)
    for name, depth, size in _walk(root):
        if depth <= MARKER_DEPTH and shallowest.get(name, depth + 1) > depth:
            shallowest[name] = depth
        dot = name.rfind(".")
        if dot > 0:
            sizes[name[dot:].lower()] += size
    return _Survey(shallowest, dict(sizes))


def _walk(root: Path) -> Iterator[tuple[str, int, int]]:
    """(name, depth, size) of every regular file not ignored; never follows links."""
    stack: list[tuple[str, int, list[_Ignore]]] = [("", 0, [])]
    while stack:
        folder, depth, ignores = stack.pop()
        here = root / folder if folder else root
        ignores = ignores + _gitignore(here, folder)
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for entry in entries:
            relative = f"{folder}/{entry.name}" if folder else entry.name
            try:
                if entry.is_symlink():
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                if _ignored(relative, is_dir, ignores):
                    continue
                if is_dir:
                    if _descend(entry, depth):
                        stack.append((relative, depth + 1, ignores))
                elif entry.is_file(follow_symlinks=False):
                    yield entry.name, depth, entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue


def _descend(entry: os.DirEntry[str], depth: int) -> bool:
    """Skip vendored, generated and virtual-environment folders, and very deep trees."""
    if entry.name in SKIPPED_FOLDERS or depth >= MAX_DEPTH:
        return False
    return not (Path(entry.path) / "pyvenv.cfg").exists()


def _gitignore(folder: Path, relative: str) -> list[_Ignore]:
    try:
        lines = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [(relative, pathspec.GitIgnoreSpec.from_lines(lines))]


def _ignored(relative: str, is_dir: bool, ignores: list[_Ignore]) -> bool:
    for base, spec in ignores:
        inside = relative[len(base) + 1 :] if base else relative
        if spec.match_file(inside + "/" if is_dir else inside):
            return True
    return False
