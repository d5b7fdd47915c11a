"""Synced files written straight into a container's root filesystem (draftd/targets/rootfs.py),
on a folder standing in for one: what is written, and every archive or folder it refuses,
having written nothing (the engine's archive API then does the copy). The docker target's
end-to-end sync tests (tests/e2e/test_sync_docker.py) go through it against real containers."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from draftd.targets import rootfs


def archive(*members: tuple[str, bytes | str], owner: int = 10001, mode: int = 0o640) -> bytes:
    """A tar like `sync_archive`'s: a bytes value is a file, a str a symlink to it."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = owner
            info.mtime = 1_700_000_000
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.mode, info.size = mode, len(content)
                tar.addfile(info, io.BytesIO(content))
    return data.getvalue()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "app").mkdir(parents=True)
    (tmp_path / "root" / "app" / "app.py").write_text("old")
    return tmp_path / "root"


def test_files_replace_the_old_ones_with_the_archives_owner_mode_and_time(root: Path) -> None:
    old = (root / "app" / "app.py").stat().st_ino

    assert rootfs.write_files(str(root), archive(("app/app.py", b"new"), ("app/b.py", b"b")))

    written = (root / "app" / "app.py").stat()
    assert (root / "app" / "app.py").read_text() == "new"
    assert (root / "app" / "b.py").read_text() == "b"
    assert written.st_ino != old, "replaced, as the engine's unpacking does, not rewritten"
    if os.geteuid() == 0:
        assert (written.st_uid, written.st_gid) == (10001, 10001)
    assert written.st_mode & 0o7777 == 0o640
    assert written.st_mtime == 1_700_000_000
    assert sorted(p.name for p in (root / "app").iterdir()) == ["app.py", "b.py"], "no leftovers"


def test_a_folder_that_is_a_link_is_never_followed(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "etc").symlink_to(outside)

    assert not rootfs.write_files(str(root), archive(("app/app.py", b"new"), ("etc/x", b"x")))

    assert list(outside.iterdir()) == [], "nothing written through the image's link"
    assert (root / "app" / "app.py").read_text() == "old", "nothing written at all"


def test_a_file_that_is_a_link_is_replaced_not_written_through(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_text("keep")
    (root / "app" / "app.py").unlink()
    (root / "app" / "app.py").symlink_to(outside)

    assert rootfs.write_files(str(root), archive(("app/app.py", b"new")))

    assert outside.read_text() == "keep"
    assert not (root / "app" / "app.py").is_symlink()
    assert (root / "app" / "app.py").read_text() == "new"


@pytest.mark.parametrize(
    "members",
    [
        [("app/new/x.py", b"x")],  # a folder the container lacks: the engine makes it
        [("app/app.py", b"new"), ("app/link", "app.py")],  # a symlink
        [("app/../escape", b"x")],
        [("/app/app.py", b"x")],
        [("app/app.py/x", b"x")],  # a file on the way
    ],
    ids=["missing folder", "symlink", "dot-dot", "absolute", "file as folder"],
)
def test_anything_but_plain_files_in_existing_folders_is_left_to_the_engine(
    root: Path, members: list[tuple[str, bytes | str]]
) -> None:
    before = sorted(str(p) for p in root.rglob("*"))

    assert not rootfs.write_files(str(root), archive(*members))

    assert sorted(str(p) for p in root.rglob("*")) == before
    assert (root / "app" / "app.py").read_text() == "old"


def test_only_a_mounted_root_owned_by_root_is_written_from_here(root: Path) -> None:
    assert not rootfs.usable(str(root)), "a plain folder is not a container's mounted root"
    assert not rootfs.usable("relative/path")
    assert not rootfs.usable("")
