"""Build contexts: the manifest's checks, the content tag, the tar a builder gets, the chart folder.

Everything a client sends is checked here before anything is stored: a path
that could leave the build's own folder (`..`, an absolute path, a backslash, a
link that escapes) or a mode that makes a device or FIFO is refused with the
entry named. What passes becomes `ContextFile`s; only they are ever turned into
a tar stream or written to disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeGuard

from draft.errors import DraftError, quoted
from draftd.blobs import BlobRefused, BlobStore, check_digest, digest_of
from draftd.wire import BuildSettings

MAX_ENTRIES = 100_000
MAX_PATH = 4096
MAX_DEPTH = 256
"""Folders above an entry: Linux's PATH_MAX allows 2,047, no real context needs a tenth."""
MAX_NAME = 255
MAX_LINK_HOPS = 40
MAX_LINK_WORK = 1_000_000
FIXED_MTIME = 315_532_800  # 1980-01-01: the same context always makes the same tar
SPOOL_IN_MEMORY = 16 * 1024 * 1024
_HINT = "Draft uploads only files inside the app's folder; check the client that sent this."


class ManifestRefused(DraftError):
    """A manifest entry could reach outside the build's folder, or is malformed."""

    def __init__(self, message: str, hint: str = _HINT) -> None:
        super().__init__(message, hint)


@dataclass(frozen=True, slots=True, weakref_slot=True)
class ContextFile:
    """One checked entry of a manifest: a regular file, or a link that stays inside."""

    path: str
    digest: str
    size: int
    mode: int
    link: str | None = None


def validate_manifest(
    entries: object, *, max_size: int, what: str = "build context"
) -> tuple[ContextFile, ...]:
    """The entries as `ContextFile`s sorted by path; `ManifestRefused` names the first bad one."""
    if not isinstance(entries, list):
        raise ManifestRefused(f"The {what} manifest must be a list of entries.")
    if len(entries) > MAX_ENTRIES:
        raise ManifestRefused(
            f"The {what} has {len(entries)} files; draftd accepts at most {MAX_ENTRIES}.",
            "Add what the image does not need (node_modules, build output) to .dockerignore.",
        )
    files = [_entry(entry, max_size) for entry in entries]
    by_path: dict[str, ContextFile] = {}
    for file in files:
        if file.path in by_path:
            raise ManifestRefused(f"Manifest entry {_show(file.path)} appears twice.")
        by_path[file.path] = file
    ordered = sorted(files, key=_in_tar_order)
    _check_nesting(ordered, what)
    _check_links(by_path)
    return tuple(ordered)


def _in_tar_order(file: ContextFile) -> str:
    """Sorts as the path's segments do ("a/b" before "a!"): a folder's entries come together.

    A checked path has no NUL, so "/" made NUL sorts below every character.
    """
    return file.path.replace("/", "\x00")


def _entry(entry: object, max_size: int) -> ContextFile:
    if not isinstance(entry, dict):
        raise ManifestRefused("Every manifest entry must be an object with path, digest, mode.")
    path = check_path(entry.get("path"))
    try:
        digest = check_digest(entry.get("digest"))
    except BlobRefused as error:
        raise ManifestRefused(
            f"Manifest entry {_show(path)}: {error.message}", error.hint
        ) from None
    size, mode, link = entry.get("size"), entry.get("mode"), entry.get("link")
    if not _is_int(size) or not 0 <= size <= max_size:
        raise ManifestRefused(
            f"Manifest entry {_show(path)} has size {quoted(size)}; the limit is {max_size} "
            "bytes per file.",
            "Add large files the image does not need to .dockerignore.",
        )
    if not _is_int(mode) or mode & ~0o7777 or mode < 0:
        raise ManifestRefused(
            f"Manifest entry {_show(path)} has mode {_mode(mode)}: only permission bits are "
            "accepted, so devices, FIFOs and sockets cannot be uploaded."
        )
    if link is not None:
        link = _check_link_text(_show(path), link)
    return ContextFile(path, digest, size, mode, link)


def check_path(path: object, what: str = "Manifest entry") -> str:
    """A relative, "/"-separated path of plain names: nothing that could leave its folder."""
    if not isinstance(path, str) or not path:
        raise ManifestRefused(f"{what} path {quoted(path)} must be a non-empty string.")
    problem = _path_problem(path)
    if problem:
        raise ManifestRefused(f"{what} {_show(path)} {problem}")
    return path


def _path_problem(path: str) -> str | None:
    """What is wrong with `path`, said after its name; None when it is a plain relative path."""
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8."
    if len(encoded) > MAX_PATH:
        return f"is longer than {MAX_PATH} bytes."
    if "\x00" in path or "\\" in path:
        return "contains a NUL or a backslash."
    if path.startswith("/"):
        return "is an absolute path; paths must be relative."
    if path.count("/") > MAX_DEPTH:
        return f"is more than {MAX_DEPTH} folders deep."
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return "has an empty, '.' or '..' segment; paths must stay inside."
        # (4 bytes a character at most: only a longer segment can be too long to encode)
        if len(segment) > MAX_NAME // 4 and len(segment.encode("utf-8")) > MAX_NAME:
            return f"has a name longer than {MAX_NAME} bytes."
    return None


def _check_link_text(name: str, link: object) -> str:
    if not isinstance(link, str) or not link:
        raise ManifestRefused(f"Manifest entry {name} has a link target that is not a string.")
    if len(link.encode("utf-8", "replace")) > MAX_PATH or "\x00" in link or "\\" in link:
        raise ManifestRefused(f"Manifest entry {name} has a malformed link target.")
    if link.startswith("/"):
        raise ManifestRefused(
            f"Manifest entry {name} links to the absolute path {_show(link)}; "
            "links must stay inside the build context."
        )
    return link


def _check_nesting(ordered: Sequence[ContextFile], what: str) -> None:
    """No entry may sit inside a file or a link: writing it would go wherever the link points.

    In tar order whatever is inside an entry comes right after it, so each entry is
    compared with the one before only; the folders the tar lists (`_with_folders`) are
    counted as they are in linear time, and bounded like the files.
    """
    folders = 0
    for before, file, parents, shared in _walk(ordered):
        if before is not None and file.path.startswith(before.path + "/"):
            kind = "a link" if before.link is not None else "a file"
            raise ManifestRefused(
                f"Manifest entry {_show(file.path)} is inside {_show(before.path)}, "
                f"which is {kind}."
            )
        folders += len(parents) - shared
        if folders > MAX_ENTRIES:
            raise ManifestRefused(
                f"The {what} has more than {MAX_ENTRIES} folders; draftd accepts at most "
                f"{MAX_ENTRIES}.",
                "Add what the image does not need (node_modules, build output) to .dockerignore.",
            )


def _walk(
    ordered: Iterable[ContextFile],
) -> Iterator[tuple[ContextFile | None, ContextFile, list[str], int]]:
    """Per entry in tar order: the entry before it, the entry, its folders' names, and how
    many of the outermost of those it shares with the entry before (listed there already)."""
    before: ContextFile | None = None
    above: list[str] = []
    for file in ordered:
        parents = file.path.split("/")[:-1]
        shared = 0
        for mine, theirs in zip(parents, above, strict=False):
            if mine != theirs:
                break
            shared += 1
        yield before, file, parents, shared
        before, above = file, parents


def _check_links(by_path: Mapping[str, ContextFile]) -> None:
    links = {f.path: f.link for f in by_path.values() if f.link is not None}
    for path, link in links.items():
        if by_path[path].digest != digest_of(link.encode("utf-8")):
            raise ManifestRefused(
                f"Manifest entry {_show(path)} is a link whose digest is not that of its target.",
                "A link's digest is the sha256 of its target text.",
            )
    resolver = _LinkResolver(links)
    for path in links:
        resolver.target(path)


class _LinkResolver:
    """Where each of a manifest's links leads, following the manifest's own links.

    Each link is resolved once and remembered, so links built on links (`l2 -> l1/l1`,
    `l1 -> l0/l0`, …) cost the length of their text, not 2^depth walks; a chain deeper
    than the kernel follows (`MAX_LINK_HOPS`) or a loop is refused, and so is a manifest
    whose links take more than `MAX_LINK_WORK` steps in all.
    """

    def __init__(self, links: Mapping[str, str]) -> None:
        self._links = links
        self._resolved: dict[str, tuple[str, ...]] = {}
        self._hops: dict[str, int] = {}
        """Per resolved link, the most links followed in a row beyond it (order-independent)."""
        self._resolving: list[str] = []
        self._work = 0

    def target(self, path: str) -> tuple[str, ...]:
        """The segments, from the context's root, of where the link at `path` leads."""
        found = self._resolved.get(path)
        if found is not None:
            return found
        if path in self._resolving or len(self._resolving) > MAX_LINK_HOPS:
            raise self._loop()
        self._resolving.append(path)
        parts = path.split("/")[:-1]
        hops = 0
        for segment in self._links[path].split("/"):
            self._work += len(parts) + 1
            if self._work > MAX_LINK_WORK:
                raise ManifestRefused(
                    f"The manifest's links take more than {MAX_LINK_WORK} steps to follow.",
                    "Simplify the links in the app's folder, or add them to .dockerignore.",
                )
            if segment in ("", "."):
                continue
            if segment == "..":
                if not parts:
                    raise ManifestRefused(
                        f"Manifest entry {_show(self._resolving[0])} links outside the build "
                        "context."
                    )
                parts.pop()
                continue
            parts.append(segment)
            inner = "/".join(parts)
            if inner in self._links:
                parts = list(self.target(inner))
                hops = max(hops, self._hops[inner] + 1)
        if hops > MAX_LINK_HOPS:
            raise self._loop()
        self._resolving.pop()
        self._resolved[path] = resolved = tuple(parts)
        self._hops[path] = hops
        return resolved

    def _loop(self) -> ManifestRefused:
        return ManifestRefused(
            f"Manifest entry {_show(self._resolving[0])} is part of a loop of links, "
            f"or of a chain of more than {MAX_LINK_HOPS}."
        )


def blob_digests(files: Iterable[ContextFile]) -> list[str]:
    """The digests whose blobs a build needs: regular files only (a link's text is inline)."""
    return [f.digest for f in files if f.link is None]


def context_tag(files: Sequence[ContextFile], settings: BuildSettings) -> str:
    """The image tag: a hash of what goes into the image, so an unchanged context keeps its tag."""
    payload = {
        "files": sorted([f.path, f.digest, f.mode, f.link or ""] for f in files),
        "dockerfile": settings["dockerfile"],
        "buildArgs": sorted(settings["image_build_args"].items()),
    }
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def context_tar(
    files: Sequence[ContextFile], blobs: BlobStore, spool_dir: Path
) -> tempfile.SpooledTemporaryFile[bytes]:
    """The build context as an uncompressed tar, the same bytes for the same files.

    Blocking (it reads every blob): run it in a thread. Large contexts spill
    to a file in `spool_dir`, inside draftd's state folder.
    """
    spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
        max_size=SPOOL_IN_MEMORY, dir=str(spool_dir)
    )
    try:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, file in _with_folders(files):
                _add(tar, path, file, blobs)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _with_folders(files: Iterable[ContextFile]) -> list[tuple[str, ContextFile | None]]:
    """Every file plus an entry for each folder above it, parents first, in tar order.

    Each folder is named once, from its parent's name: linear in what is listed.
    """
    items: list[tuple[str, ContextFile | None]] = []
    names: list[str] = []
    for _, file, parents, shared in _walk(sorted(files, key=_in_tar_order)):
        del names[shared:]
        for part in parents[shared:]:
            names.append(f"{names[-1]}/{part}" if names else part)
            items.append((names[-1], None))
        items.append((file.path, file))
    return items


def _add(tar: tarfile.TarFile, path: str, file: ContextFile | None, blobs: BlobStore) -> None:
    info = tarfile.TarInfo(path)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = FIXED_MTIME
    if file is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    elif file.link is not None:
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, file.link
        tar.addfile(info)
    else:
        info.mode = file.mode
        with blobs.open(file.digest) as data:
            info.size = os.fstat(data.fileno()).st_size
            tar.addfile(info, data)


def read_file(
    files: Iterable[ContextFile], path: str, blobs: BlobStore, limit: int
) -> bytes | None:
    """The first `limit` bytes of the context's regular file at `path`, or None."""
    for file in files:
        if file.path == path and file.link is None:
            with blobs.open(file.digest) as data:
                return data.read(limit)
    return None


def materialize(files: Iterable[ContextFile], blobs: BlobStore, folder: Path) -> None:
    """Write checked files into the new, empty `folder` (the chart a Helm deploy reads).

    Each folder is opened relative to its parent with O_NOFOLLOW and each file
    created with O_EXCL | O_NOFOLLOW, and links are made last, so no write
    ever passes through a link, whatever was there before.
    """
    folder.mkdir(parents=True, mode=0o700)
    root = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        ordered = sorted(files, key=lambda f: f.link is not None)
        for file in ordered:
            *parents, name = file.path.split("/")
            parent = _open_folders(root, parents)
            try:
                _write_entry(parent, name, file, blobs)
            finally:
                if parent != root:
                    os.close(parent)
    finally:
        os.close(root)


def _open_folders(root: int, parts: list[str]) -> int:
    current = root
    for part in parts:
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=current)
        try:
            opened = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=current)
        finally:
            if current != root:
                os.close(current)
        current = opened
    return current


def _write_entry(parent: int, name: str, file: ContextFile, blobs: BlobStore) -> None:
    if file.link is not None:
        os.symlink(file.link, name, dir_fd=parent)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    target = os.open(name, flags, file.mode & 0o777, dir_fd=parent)
    with os.fdopen(target, "wb") as out, blobs.open(file.digest) as data:
        _copy(data, out)


def _copy(source: IO[bytes], target: IO[bytes]) -> None:
    while chunk := source.read(1024 * 1024):
        target.write(chunk)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


_FILE_TYPES = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
    stat.S_IFLNK: "a link",
    stat.S_IFREG: "with the regular-file type bits",
}


def _mode(mode: object) -> str:
    if not _is_int(mode) or not 0 <= mode < 2**32:
        return quoted(mode)
    kind = _FILE_TYPES.get(stat.S_IFMT(mode))
    return f"{oct(mode)} ({kind})" if kind else oct(mode)


def _show(path: str) -> str:
    return repr(path if len(path) <= 120 else path[:120] + "…")
