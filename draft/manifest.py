"""The build context as draftd sees it: every file's path, sha256, size and mode.

draftd asks only for the digests it lacks, so a one-line change uploads one
file. `.dockerignore` decides what is in the context, with Docker's meaning:
patterns are anchored at the context's root, later lines win, `!` re-includes.
The Dockerfile and `.dockerignore` are always sent (the daemon needs the first
to build). Digests are cached by (size, mtime) so rescanning after a save
rehashes only what changed.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from draft.errors import DraftError

DOCKERIGNORE = ".dockerignore"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    path: str
    digest: str
    size: int
    mode: int
    link: str | None = None


class ContextError(DraftError):
    """The build context holds something draftd would refuse (a link leaving the app)."""


_cache: dict[str, tuple[int, int, str]] = {}
_cache_lock = threading.Lock()


def dockerignore(root: Path) -> pathspec.GitIgnoreSpec:
    """The context's `.dockerignore` as a matcher, anchored at the root like Docker's."""
    try:
        lines = (root / DOCKERIGNORE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    anchored = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        pattern = pattern.removeprefix("./")
        if not pattern.startswith(("/", "**")):
            pattern = "/" + pattern
        anchored.append(("!" if negated else "") + pattern)
    try:
        return pathspec.GitIgnoreSpec.from_lines(anchored)
    except ValueError:  # pathspec's GitIgnorePatternError: find the line to name
        for number, raw in enumerate(lines, start=1):
            try:
                pathspec.GitIgnoreSpec.from_lines([raw.strip().lstrip("!")])
            except ValueError as error:
                raise ContextError(
                    f"Line {number} of {root / DOCKERIGNORE} is not a valid pattern: {error}",
                    "Fix or remove it (Docker refuses it too).",
                ) from None
        raise


def build_context(root: Path, dockerfile: str = "Dockerfile") -> list[Entry]:
    """The files `docker build` would see in `root`, sorted by path."""
    ignore = dockerignore(root)
    always = {dockerfile.replace(os.sep, "/"), DOCKERIGNORE}
    entries = [
        entry for entry in _scan(root) if entry.path in always or not ignore.match_file(entry.path)
    ]
    if dockerfile not in {e.path for e in entries}:
        raise ContextError(
            f"{root / dockerfile} does not exist.",
            "Run `draft create` to add one, or set `dockerfile` in draft.toml.",
        )
    return entries


def chart_files(chart_dir: Path) -> list[Entry]:
    """The chart's files, relative to the chart folder (draftd renders it there)."""
    if not (chart_dir / "Chart.yaml").is_file():
        raise ContextError(
            f"{chart_dir} is not a Helm chart (it has no Chart.yaml).",
            "Fix `chart` in draft.toml, or run `draft create` to add one.",
        )
    return list(_scan(chart_dir))


def _scan(root: Path) -> Iterator[Entry]:
    stack = [""]
    while stack:
        folder = stack.pop()
        try:
            children = sorted(os.scandir(root / folder if folder else root), key=lambda e: e.name)
        except OSError:
            continue
        for child in children:
            relative = f"{folder}/{child.name}" if folder else child.name
            if child.name == ".git" and not folder:
                continue
            try:
                info = child.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                yield _link(root, relative, child.path)
            elif stat.S_ISDIR(info.st_mode):
                stack.append(relative)
            elif stat.S_ISREG(info.st_mode):
                mode = 0o755 if info.st_mode & 0o111 else 0o644
                yield Entry(relative, _digest(child.path, info), info.st_size, mode)
            # sockets, FIFOs and devices are not part of a build context


def _link(root: Path, relative: str, path: str) -> Entry:
    target = str(Path(path).readlink())
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(relative), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise ContextError(
            f"{root / relative} links to {target}, outside the app.",
            "Replace the link with the file, or list it in .dockerignore.",
        )
    data = target.encode()
    return Entry(relative, "sha256:" + hashlib.sha256(data).hexdigest(), len(data), 0o777, target)


def forget(path: Path) -> None:
    """Hash `path` afresh next time: it changed without its size or mtime telling (a
    rewrite within the filesystem's timestamp granularity)."""
    with _cache_lock:
        _cache.pop(str(path), None)


def _digest(path: str, info: os.stat_result) -> str:
    with _cache_lock:
        cached = _cache.get(path)
    if cached is not None and cached[0] == info.st_size and cached[1] == info.st_mtime_ns:
        return cached[2]
    sha = hashlib.sha256()
    with open(path, "rb") as source:  # noqa: PTH123 - hot path, plain open is cheapest
        while chunk := source.read(_CHUNK):
            sha.update(chunk)
    digest = "sha256:" + sha.hexdigest()
    with _cache_lock:
        _cache[path] = (info.st_size, info.st_mtime_ns, digest)
    return digest
