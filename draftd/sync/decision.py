"""Which saves can skip the image build: the files the Dockerfile copies last.

A save that changes only files the Dockerfile's final stage copies *after its
last RUN* changes nothing in the image but those files, so draftd can copy them
into the running container and restart the app there instead of building an
image and replacing the container (Skaffold's inferred sync, Tilt's
live_update). Anything else needs a build: a file a RUN may read (it follows
`COPY requirements.txt` into `pip install`), a file copied in an earlier stage
(it may be compiled there), ADD (URLs, archives), variables in paths, a
removed file, a changed Dockerfile.

Deciding is pure: the Dockerfile's text and two manifests in, a `SyncPlan`
(or `NeedsBuild` with the reason) out; `sync_archive` then packs the plan's
files from the blob store as the tar a container takes.
"""

from __future__ import annotations

import functools
import io
import json
import posixpath
import shlex
import tarfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

from draftd.blobs import BlobStore
from draftd.contexts import ContextFile

MAX_SYNC_BYTES = 64 * 1024 * 1024
"""More changed bytes than this build the image: the sync's tar is held in memory."""
_FLAG_OWNER = "--chown="
_FLAG_MODE = "--chmod="
_HARMLESS_FLAGS = ("--link",)


class NeedsBuild(Exception):
    """This save needs an image build; `str()` says why, for the build's log."""


@dataclass(frozen=True)
class Copy:
    """One COPY (or ADD) of files from the build context."""

    sources: tuple[str, ...]
    """Context paths or patterns, normalized: no leading "./" or "/", "" for the whole context."""
    destination: str
    """An absolute path; ending in "/" when it names a folder."""
    syncable: str | None
    """None when its files can be synced, else why not."""
    owner: tuple[int, int] | None = None
    mode: int | None = None

    def places(self, path: str) -> list[str]:
        """Where this copy puts the context file `path` in the image (none: not copied)."""
        found = []
        into_folder = self.destination.endswith("/") or len(self.sources) > 1
        for source in self.sources:
            if source == "":
                found.append(posixpath.join(self.destination, path))
            elif path == source or _matches(source, path):
                name = posixpath.basename(path)
                found.append(
                    posixpath.join(self.destination, name) if into_folder else self.destination
                )
            else:
                folder = _matched_folder(source, path)
                if folder is not None:
                    found.append(posixpath.join(self.destination, path[len(folder) + 1 :]))
        return found


@dataclass(frozen=True)
class SyncFile:
    """A context file and where it goes in the running container."""

    file: ContextFile
    destination: str
    owner: tuple[int, int] | None = None
    mode: int | None = None


@dataclass(frozen=True)
class SyncPlan:
    files: tuple[SyncFile, ...]
    """What to copy into the container; empty when no changed file is in the image."""
    changed: tuple[str, ...]
    """The context paths that changed."""


@dataclass(frozen=True)
class SyncRules:
    """What the Dockerfile does with the build context's files."""

    copies: tuple[Copy, ...]
    problem: str | None = None
    """Set when the Dockerfile rules out syncing any file (and why)."""

    @property
    def any_syncable(self) -> bool:
        return self.problem is None and any(c.syncable is None for c in self.copies)

    def placements(self, path: str) -> list[tuple[Copy, str]]:
        """Where a changed `path` goes, or `NeedsBuild` when a build step may use it."""
        if self.problem is not None:
            raise NeedsBuild(self.problem)
        found: list[tuple[Copy, str]] = []
        for copy in self.copies:
            places = copy.places(path)
            if places and copy.syncable is not None:
                raise NeedsBuild(f"{path} changed, and {copy.syncable}")
            found.extend((copy, place) for place in places)
        return found


@functools.lru_cache(maxsize=64)
def rules(dockerfile: bytes) -> SyncRules:
    """The sync rules of a Dockerfile's text; a Dockerfile Draft cannot read syncs nothing."""
    try:
        parser = DockerfileParser(fileobj=io.BytesIO(dockerfile), env_replace=False)
        instructions = [
            (str(item["instruction"]).upper(), str(item["value"]))
            for item in parser.structure
            if item["instruction"] not in ("COMMENT",)
        ]
    except Exception as error:  # the parser's own errors are of many kinds
        return SyncRules((), f"the Dockerfile could not be read ({error})")
    stages = _stages(instructions)
    if not stages:
        return SyncRules((), "the Dockerfile has no FROM")
    copies: list[Copy] = []
    for number, stage in enumerate(stages):
        final = number == len(stages) - 1
        copies.extend(_stage_copies(stage, final))
        if any(kind == "RUN" and _mounts_context(value) for kind, value in stage):
            return SyncRules((), "a RUN step mounts the build context")
    return SyncRules(tuple(copies))


def _mounts_context(run: str) -> bool:
    """Whether a RUN's `--mount` flags bind files of the build context (a bind mount, the
    default type): a cache, tmpfs, secret or ssh mount brings in none of the app's files."""
    for word in run.split():
        if not word.startswith("--"):
            break
        if word.startswith("--mount="):
            options = [part.partition("=") for part in word.removeprefix("--mount=").split(",")]
            kind = next((value for key, _, value in options if key == "type"), "bind")
            if kind == "bind":
                return True
    return False


def plan(
    previous: Sequence[ContextFile],
    current: Sequence[ContextFile],
    dockerfile: str,
    dockerfile_rules: SyncRules,
) -> SyncPlan:
    """What to copy into a container built from `previous` so that it runs `current`.

    `dockerfile` is the Dockerfile's context path and `dockerfile_rules` its rules.
    `NeedsBuild` says why the image must be built instead.
    """
    before = {f.path: f for f in previous}
    now = {f.path: f for f in current}
    removed = sorted(set(before) - set(now))
    if removed:
        raise NeedsBuild(f"{removed[0]} was removed")
    changed = sorted(path for path, file in now.items() if before.get(path) != file)
    if dockerfile in changed:
        raise NeedsBuild("the Dockerfile changed")
    files = []
    for path in changed:
        for copy, destination in dockerfile_rules.placements(path):
            files.append(SyncFile(now[path], destination, copy.owner, copy.mode))
    size = sum(f.file.size for f in files)
    if size > MAX_SYNC_BYTES:
        raise NeedsBuild(f"{size / 1e6:.0f} MB changed, more than a sync copies")
    return SyncPlan(tuple(files), tuple(changed))


def sync_archive(files: Sequence[SyncFile], blobs: BlobStore) -> bytes:
    """The plan's files as a tar at their absolute paths (without the leading "/").

    Owned by root unless the COPY said `--chown`, with the manifest's mode unless
    it said `--chmod`, as `docker build` would have made them. Blocking: it reads blobs.
    """
    archive = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in files:
            info = tarfile.TarInfo(item.destination.lstrip("/"))
            info.uid, info.gid = item.owner or (0, 0)
            info.mtime = now
            if item.file.link is not None:
                info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, item.file.link
                tar.addfile(info)
                continue
            info.mode = item.mode if item.mode is not None else item.file.mode
            with blobs.open(item.file.digest) as data:
                info.size = item.file.size
                tar.addfile(info, data)
    return archive.getvalue()


def _stages(instructions: Iterable[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for kind, value in instructions:
        if kind == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((kind, value))
    return stages


def _stage_copies(stage: list[tuple[str, str]], final: bool) -> list[Copy]:
    copies = []
    workdir = "/"
    last_run = max((i for i, (kind, _) in enumerate(stage) if kind == "RUN"), default=-1)
    for index, (kind, value) in enumerate(stage):
        if kind == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, value.strip()))
        elif kind in ("COPY", "ADD"):
            copy = _copy(kind, value, workdir)
            if copy is None:
                continue
            why = copy.syncable
            if why is None and not final:
                why = "an earlier build stage of the Dockerfile copies it"
            elif why is None and index < last_run:
                why = "the Dockerfile runs a build step (RUN) after copying it"
            elif why is None and "$" in workdir:
                why = "the Dockerfile's WORKDIR has a variable"
            copies.append(Copy(copy.sources, copy.destination, why, copy.owner, copy.mode))
    return copies


def _copy(kind: str, value: str, workdir: str) -> Copy | None:
    """The copy `COPY value` makes from the build context; None when it reads no context file."""
    words = _words(value)
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    if any(f.startswith("--from=") for f in flags) or len(paths) < 2:
        return None
    *sources, destination = paths
    if any(s.startswith("<<") for s in sources):  # a heredoc: text in the Dockerfile
        return None
    why = None
    owner, mode = None, None
    for flag in flags:
        if flag.startswith(_FLAG_OWNER):
            owner = _owner(flag[len(_FLAG_OWNER) :])
            why = why or (None if owner else f"its {flag} names a user Draft cannot look up")
        elif flag.startswith(_FLAG_MODE) and _octal(flag[len(_FLAG_MODE) :]) is not None:
            mode = _octal(flag[len(_FLAG_MODE) :])
        elif not flag.startswith(_HARMLESS_FLAGS):
            why = why or f"the Dockerfile copies it with {flag.split('=')[0]}"
    if kind == "ADD":
        why = "the Dockerfile adds it with ADD (which may unpack or fetch)"
    if any("$" in p for p in paths):
        why = why or "the Dockerfile names it with a variable"
    target = posixpath.join(workdir, destination)
    folder = destination.endswith("/") or destination in (".", "./")
    target = posixpath.normpath(target) + ("/" if folder else "")
    return Copy(tuple(_source(s) for s in sources), target.replace("//", "/"), why, owner, mode)


def _words(value: str) -> list[str]:
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return list(parsed)
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


def _source(source: str) -> str:
    normal = posixpath.normpath("/" + source).lstrip("/")
    return "" if normal in ("", ".") else normal


def _owner(text: str) -> tuple[int, int] | None:
    user, _, group = text.partition(":")
    if not user.isdigit() or (group and not group.isdigit()):
        return None
    return int(user), int(group or user)


def _octal(text: str) -> int | None:
    try:
        return int(text, 8)
    except ValueError:
        return None


def _matches(pattern: str, path: str) -> bool:
    """Go's filepath.Match, as Docker uses it: wildcards never cross a "/"."""
    if not any(c in pattern for c in "*?["):
        return False
    parts, names = pattern.split("/"), path.split("/")
    return len(parts) == len(names) and all(map(fnmatchcase, names, parts))


def _matched_folder(pattern: str, path: str) -> str | None:
    """The folder above `path` that `pattern` names (its contents are copied), if any."""
    names = path.split("/")
    for depth in range(1, len(names)):
        folder = "/".join(names[:depth])
        if folder == pattern or _matches(pattern, folder):
            return folder
    return None
