"""Which saves skip the image build: the Dockerfile's copies read the way `docker build` does."""

from __future__ import annotations

import asyncio
import hashlib
import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from draftd.blobs import BlobStore
from draftd.contexts import ContextFile
from draftd.sync.decision import MAX_SYNC_BYTES, NeedsBuild, SyncFile, plan, rules, sync_archive

REPO = Path(__file__).resolve().parents[2]


def file(path: str, text: str = "", mode: int = 0o644) -> ContextFile:
    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return ContextFile(path, digest, len(text), mode)


def where(dockerfile: str, path: str) -> list[str]:
    """Where a change of `path` lands in the container (NeedsBuild when it cannot)."""
    return [place for _, place in rules(dockerfile.encode()).placements(path)]


def why_not(dockerfile: str, path: str) -> str:
    with pytest.raises(NeedsBuild) as raised:
        where(dockerfile, path)
    return str(raised.value)


PYTHON = (REPO / "packs" / "python" / "Dockerfile").read_text()


def test_the_python_pack_syncs_code_and_builds_for_requirements() -> None:
    assert where(PYTHON, "app.py") == ["/app/app.py"]
    assert where(PYTHON, "pkg/views/home.py") == ["/app/pkg/views/home.py"]
    assert why_not(PYTHON, "requirements.txt") == (
        "requirements.txt changed, and the Dockerfile runs a build step (RUN) after copying it"
    )


@pytest.mark.parametrize("pack", ["go", "rust", "java", "csharp", "node"])
def test_compiled_or_built_packs_never_sync(pack: str) -> None:
    dockerfile = (REPO / "packs" / pack / "Dockerfile").read_bytes()
    assert not rules(dockerfile).any_syncable


@pytest.mark.parametrize("pack", ["python", "ruby", "php"])
def test_interpreted_packs_sync(pack: str) -> None:
    assert rules((REPO / "packs" / pack / "Dockerfile").read_bytes()).any_syncable


def test_destinations_follow_workdir_folders_files_and_wildcards() -> None:
    dockerfile = """\
FROM python:3.12-slim
WORKDIR /srv
WORKDIR web
COPY src/ lib/
COPY ["main.py", "/opt/entry.py"]
COPY *.cfg conf/
COPY static ./public
"""
    assert where(dockerfile, "src/a/b.py") == ["/srv/web/lib/a/b.py"]
    assert where(dockerfile, "main.py") == ["/opt/entry.py"]
    assert where(dockerfile, "app.cfg") == ["/srv/web/conf/app.cfg"]
    assert where(dockerfile, "sub/app.cfg") == [], "a wildcard does not cross a folder"
    assert where(dockerfile, "static/css/site.css") == ["/srv/web/public/css/site.css"]
    assert where(dockerfile, "README.md") == [], "a file no COPY takes is not in the image"


def test_numeric_owner_and_mode_are_kept_and_named_owners_need_a_build() -> None:
    dockerfile = "FROM x\nCOPY --chown=1000:2000 --chmod=600 a.txt /data/\n"
    [(copy, place)] = rules(dockerfile.encode()).placements("a.txt")
    assert (place, copy.owner, copy.mode) == ("/data/a.txt", (1000, 2000), 0o600)
    assert "names a user" in why_not("FROM x\nCOPY --chown=app . /app\n", "a.py")


@pytest.mark.parametrize(
    ("dockerfile", "reason"),
    [
        ("FROM x AS build\nCOPY . /src\nFROM y\nCOPY . /app\n", "an earlier build stage"),
        ("FROM x\nADD . /app\n", "ADD"),
        ("FROM x\nARG DIR=/app\nCOPY . $DIR\n", "variable"),
        ("FROM x\nCOPY . /app\nRUN make\n", "RUN"),
        ("FROM x\nCOPY --parents . /app\n", "--parents"),
        ("FROM x\nRUN --mount=type=bind,target=/src make\nCOPY . /app\n", "mounts"),
        ("FROM x\nRUN --mount=target=/src make\nCOPY . /app\n", "mounts"),  # bind: the default
    ],
)
def test_anything_a_build_step_may_use_needs_a_build(dockerfile: str, reason: str) -> None:
    assert reason in why_not(dockerfile, "a.py")


def test_a_cache_mount_brings_no_app_file_in_and_saves_still_sync() -> None:
    """pip's cache kept between builds (the python pack's) is no reason to build."""
    dockerfile = (
        "FROM x\nWORKDIR /app\nCOPY requirements.txt ./\n"
        "RUN --mount=type=cache,target=/root/.cache/pip --mount=type=tmpfs,target=/tmp "
        "pip install -r requirements.txt\nCOPY . .\n"
    )
    assert where(dockerfile, "a.py") == ["/app/a.py"]
    assert "requirements.txt" in why_not(dockerfile, "requirements.txt")


def test_a_plan_copies_only_what_changed() -> None:
    before = [file("Dockerfile", PYTHON), file("app.py", "v1"), file("util.py", "u")]
    after = [file("Dockerfile", PYTHON), file("app.py", "v2"), file("util.py", "u")]
    result = plan(before, after, "Dockerfile", rules(PYTHON.encode()))
    assert result.changed == ("app.py",)
    assert [f.destination for f in result.files] == ["/app/app.py"]

    executable = [*after[:2], file("util.py", "u", 0o755)]
    moded = plan(after, executable, "Dockerfile", rules(PYTHON.encode()))
    assert moded.changed == ("util.py",), "a mode change is a change"


@pytest.mark.parametrize(
    ("after", "reason"),
    [
        ([file("Dockerfile", PYTHON)], "app.py was removed"),
        ([file("Dockerfile", PYTHON + "\n"), file("app.py", "v1")], "the Dockerfile changed"),
    ],
)
def test_removals_and_dockerfile_edits_need_a_build(after: list[ContextFile], reason: str) -> None:
    before = [file("Dockerfile", PYTHON), file("app.py", "v1")]
    with pytest.raises(NeedsBuild, match=reason):
        plan(before, after, "Dockerfile", rules(PYTHON.encode()))


def test_a_large_change_builds_instead() -> None:
    before = [file("Dockerfile", PYTHON), file("assets.bin", "a")]
    big = ContextFile("assets.bin", "sha256:" + "1" * 64, MAX_SYNC_BYTES + 1, 0o644)
    with pytest.raises(NeedsBuild, match="MB changed, more than a sync copies"):
        plan(before, [before[0], big], "Dockerfile", rules(PYTHON.encode()))


def test_an_unreadable_dockerfile_syncs_nothing() -> None:
    assert not rules(b"\xff\xfe not a dockerfile").any_syncable
    assert not rules(b"").any_syncable


def test_the_archive_holds_the_files_where_the_image_has_them(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = b"print('hi')\n"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    asyncio.run(store.put(digest, chunks()))
    code = ContextFile("app.py", digest, len(data), 0o644)
    link = ContextFile("current", "sha256:" + "0" * 64, 6, 0o777, link="app.py")
    archive = sync_archive(
        [SyncFile(code, "/app/app.py", (10001, 10001), 0o600), SyncFile(link, "/app/current")],
        store,
    )
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        entry, linked = tar.getmembers()
        assert (entry.name, entry.uid, entry.mode) == ("app/app.py", 10001, 0o600)
        extracted = tar.extractfile(entry)
        assert extracted is not None and extracted.read() == data
        assert (linked.name, linked.issym(), linked.linkname, linked.uid) == (
            "app/current",
            True,
            "app.py",
            0,
        )
