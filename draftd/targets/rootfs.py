"""Synced files written straight into a running container's root filesystem, from this machine.

`docker cp` (the engine's archive API) costs ≈ 40 ms a call on an idle machine, and more
under load: the engine starts a helper process to unpack each tar in the container's root.
When draftd runs as root beside the engine, the container's root filesystem is a mount on
this machine (overlay2's `MergedDir`), and writing a few files there is what that helper does,
in ≈ 1 ms. `write_files` does it when it safely can and says False otherwise, and the caller
uses the engine's API instead:

- every member of the archive is a regular file at a plain relative path, whose folders
  already exist in the container and are real folders: each is opened without following
  symlinks (`O_NOFOLLOW`, relative to the one before), so no link in the image can lead a
  write outside its root;
- the root is a mount point owned by root (not an engine remapping user namespaces), and
  SELinux is not enforcing (files made from here would lack the container's label);
- (the caller's part) the container has no volumes: one mounted on the app's folder (an
  image's `VOLUME` makes one) is not in the merged folder, and a file written there would
  lie beneath it, unseen.

Each file is written to a temporary name beside it, given the archive's owner and mode, then
renamed over the old one, as the engine's unpacking replaces it.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path

SELINUX_ENFORCE = Path("/sys/fs/selinux/enforce")
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def usable(root: str) -> bool:
    """Whether files may be written under `root`, a container's root filesystem, from here."""
    path = Path(root)
    if os.geteuid() != 0 or not root or not path.is_absolute():
        return False
    try:
        if SELINUX_ENFORCE.read_text().strip() == "1":
            return False
    except OSError:
        pass  # no SELinux
    try:
        return path.is_mount() and path.lstat().st_uid == 0
    except OSError:
        return False


def write_files(root: str, archive: bytes) -> bool:
    """Write the regular files of `archive` (a tar, paths relative to "/") under `root`.

    False, having written nothing, when the archive holds anything else, or a folder on the
    way is missing or is not a real folder; also False after an error part-way. The caller
    then unpacks the whole archive the engine's way.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            members = tar.getmembers()
            if not all(_plain(member) for member in members):
                return False
            with _opened(root) as top:
                folders = [_folder(top, member.name) for member in members]
                try:
                    if any(folder is None for folder in folders):
                        return False
                    for member, folder in zip(members, folders, strict=True):
                        assert folder is not None
                        data = tar.extractfile(member)
                        assert data is not None  # a regular file
                        _replace(folder, member, data.read())
                finally:
                    for folder in folders:
                        if folder is not None:
                            os.close(folder)
    except OSError:
        return False
    return True


def _plain(member: tarfile.TarInfo) -> bool:
    """Whether `member` is a regular file at a plain relative path."""
    parts = member.name.split("/")
    return member.isreg() and not any(part in ("", ".", "..") for part in parts)


@contextlib.contextmanager
def _opened(root: str) -> Iterator[int]:
    descriptor = os.open(root, _FOLDER)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _folder(top: int, name: str) -> int | None:
    """The folder holding `name`, opened from `top` one real folder at a time; None when one
    is missing or is a link."""
    descriptor = os.dup(top)
    for part in name.split("/")[:-1]:
        try:
            inner = os.open(part, _FOLDER, dir_fd=descriptor)
        except OSError:  # missing (ENOENT), a symlink (ELOOP), a file (ENOTDIR)
            os.close(descriptor)
            return None
        os.close(descriptor)
        descriptor = inner
    return descriptor


def _replace(folder: int, member: tarfile.TarInfo, data: bytes) -> None:
    name = member.name.rsplit("/", 1)[-1]
    partial = f".{name}.draft-{secrets.token_hex(4)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(partial, flags, 0o600, dir_fd=folder)
    try:
        with os.fdopen(descriptor, "wb", closefd=False) as out:
            out.write(data)
        os.fchown(descriptor, member.uid, member.gid)
        os.fchmod(descriptor, member.mode & 0o7777)
        os.utime(descriptor, (member.mtime, member.mtime))
    except BaseException:
        os.close(descriptor)
        with contextlib.suppress(OSError):
            os.unlink(partial, dir_fd=folder)
        raise
    os.close(descriptor)
    try:
        os.rename(partial, name, src_dir_fd=folder, dst_dir_fd=folder)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(partial, dir_fd=folder)
        raise
