"""Uploads: only what changed is sent, and nothing hostile gets past draftd's checks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from daemon_kit import (
    DOCKERFILE,
    Daemon,
    DaemonFactory,
    Link,
    digest,
    manifest,
    settings,
    tar_members,
    tree,
)

pytestmark = pytest.mark.asyncio

APP = {
    "Dockerfile": DOCKERFILE,
    "app.py": b"print('Hello World!')\n",
    "static/site.css": b"body{}\n",
}


def entry(path: str, *, mode: int = 0o644, link: str | None = None) -> dict:
    data = (link or "x").encode()
    found = {"path": path, "digest": digest(data), "size": len(data), "mode": mode}
    if link is not None:
        found["link"] = link
    return found


async def post(daemon: Daemon, entries: list[dict], **extra) -> tuple[int, dict]:
    """Post a build request with this raw manifest, as a hostile client could."""
    body = {
        "app": "hello",
        "environment": "development",
        "manifest": entries,
        "settings": settings(),
        "trigger": "save",
    }
    return await daemon.request("POST", "/v1/builds", json=body | extra)


HOSTILE = [
    pytest.param(entry("../x"), "'../x'", id="dot-dot"),
    pytest.param(entry("/etc/x"), "'/etc/x'", id="absolute"),
    pytest.param(entry("a/../../x"), "'a/../../x'", id="dot-dot-inside"),
    pytest.param(entry("a\\..\\x"), "backslash", id="backslash"),
    pytest.param(entry("a\x00b"), "NUL", id="nul"),
    pytest.param(entry("a//b"), "empty", id="empty-segment"),
    pytest.param(entry("./a"), "'./a'", id="dot-segment"),
    pytest.param(entry("x" * 5000), "longer than 4096", id="too-long"),
    pytest.param(entry("root", mode=0o777, link="/"), "absolute path '/'", id="link-to-root"),
    pytest.param(entry("up", mode=0o777, link="../.."), "links outside", id="link-up"),
    pytest.param(
        entry("sub/up", mode=0o777, link="../../etc"), "links outside", id="link-up-from-folder"
    ),
    pytest.param(entry("dev", mode=0o020644), "character device", id="char-device"),
    pytest.param(
        entry("dev", mode=stat.S_IFCHR | 0o644), "character device", id="char-device-stat"
    ),
    pytest.param(entry("fifo", mode=stat.S_IFIFO | 0o644), "FIFO", id="fifo"),
    pytest.param(entry("sock", mode=stat.S_IFSOCK | 0o644), "socket", id="socket"),
    pytest.param(entry("regular", mode=stat.S_IFREG | 0o644), "permission bits", id="type-bits"),
]


@pytest.mark.parametrize(("bad", "named"), HOSTILE)
async def test_hostile_manifest_is_refused_before_anything_is_stored(
    daemon: Daemon, bad: dict, named: str
) -> None:
    before = tree(daemon.state.parent)
    status, answer = await post(daemon, [*manifest(APP), bad])
    assert status == 400
    assert named in answer["error"]
    assert answer["hint"]
    assert tree(daemon.state.parent) == before
    status, _ = await daemon.request("GET", "/v1/apps/hello/development")
    assert status == 404


async def test_link_that_escapes_through_another_link_is_refused(daemon: Daemon) -> None:
    # "here" -> "." makes "here/here/here/.." the parent of the context, though it reads as "here/here".
    files = {**APP, "here": Link("."), "sneaky": Link("here/here/here/..")}
    status, answer = await post(daemon, manifest(files))
    assert status == 400
    assert "'sneaky' links outside" in answer["error"]


async def test_file_inside_a_link_is_refused(daemon: Daemon) -> None:
    files = {**APP, "templates": Link("static"), "templates/x.yaml": b"kind: Pod\n"}
    status, answer = await post(daemon, manifest(files))
    assert status == 400
    assert "inside 'templates', which is a link" in answer["error"]


async def test_hostile_chart_entry_is_refused(daemon: Daemon) -> None:
    chart = [*manifest({"Chart.yaml": b"name: hello\n"}), entry("templates/../../../x")]
    status, answer = await post(daemon, manifest(APP), chart=chart)
    assert status == 400
    assert "templates/../../../x" in answer["error"]


async def test_links_that_stay_inside_are_accepted(daemon: Daemon) -> None:
    files = {**APP, "current": Link("static"), "static/again.css": Link("../static/site.css")}
    build_id = await daemon.deploy(files)
    assert (await daemon.outcome(build_id))["phase"] == "ready"


async def test_blob_whose_bytes_do_not_match_its_digest_is_refused(daemon: Daemon) -> None:
    claimed = digest(b"the real content")
    status, answer = await daemon.request("PUT", f"/v1/blobs/{claimed}", data=b"something else")
    assert status == 400
    assert "hash to" in answer["error"]
    assert not list((daemon.state / "blobs" / "sha256").glob(f"*/{claimed[7:]}"))
    assert not list((daemon.state / "blobs" / "tmp").iterdir())


@pytest.mark.parametrize(
    "name", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64, "..%2F..%2Fetc"]
)
async def test_malformed_digest_is_refused(daemon: Daemon, name: str) -> None:
    before = tree(daemon.state.parent)
    status, answer = await daemon.request("PUT", f"/v1/blobs/{name}", data=b"x")
    assert status in (400, 404)
    assert "error" in answer
    assert tree(daemon.state.parent) == before


async def test_oversize_blob_is_refused_from_its_length(daemons: DaemonFactory) -> None:
    daemon = await daemons.start(max_blob=1000)
    data = b"x" * 5000
    status, answer = await daemon.request("PUT", f"/v1/blobs/{digest(data)}", data=data)
    assert status == 413
    assert "at most 1000 bytes" in answer["error"]
    assert "--max-blob" in answer["hint"]
    assert not (daemon.state / "blobs" / "sha256" / digest(data)[7:9]).exists()


async def test_oversize_blob_is_refused_while_streaming(daemons: DaemonFactory) -> None:
    daemon = await daemons.start(max_blob=1000)
    data = b"y" * 5000

    async def chunks():  # no Content-Length: the size is only known while reading
        for start in range(0, len(data), 500):
            yield data[start : start + 500]

    status, answer = await daemon.request("PUT", f"/v1/blobs/{digest(data)}", data=chunks())
    assert status == 413
    assert "at most 1000 bytes per file; the upload is larger" in answer["error"]
    assert not list((daemon.state / "blobs" / "tmp").iterdir())


async def test_manifest_entry_larger_than_max_blob_is_refused(daemons: DaemonFactory) -> None:
    daemon = await daemons.start(max_blob=1000)
    status, answer = await post(daemon, manifest({**APP, "big.bin": b"z" * 1001}))
    assert status == 400
    assert "'big.bin'" in answer["error"]


async def test_one_line_change_uploads_only_that_file(daemon: Daemon) -> None:
    first = await daemon.post_build(APP)
    assert sorted(first["missing"]) == sorted(digest(c) for c in APP.values())
    await daemon.upload(APP, first["missing"])
    assert (await daemon.outcome(first["buildId"]))["phase"] == "ready"

    changed = {**APP, "app.py": b"print('Hello, Draft!')\n"}
    second = await daemon.post_build(changed)
    assert second["missing"] == [digest(changed["app.py"])]
    assert second["tag"] != first["tag"]


async def test_unchanged_context_keeps_its_tag_and_is_not_rebuilt(daemon: Daemon) -> None:
    first = await daemon.deploy(APP)
    await daemon.outcome(first)
    again = await daemon.post_build(APP)
    assert again["missing"] == []
    events = await daemon.events(again["buildId"])
    assert any("exists; not rebuilt" in e["message"] for e in events)
    assert len(daemon.builder.contexts) == 1


async def test_upload_that_never_completes_fails_the_build(daemons: DaemonFactory) -> None:
    daemon = await daemons.start(upload_timeout=0.5)
    created = await daemon.post_build(APP)
    outcome = await daemon.outcome(created["buildId"])
    assert outcome["phase"] == "failed"
    assert "upload did not complete" in outcome["reason"]


async def test_the_build_gets_a_reproducible_tar_of_exactly_the_manifest(daemon: Daemon) -> None:
    files = {**APP, "current": Link("static")}
    await daemon.outcome(await daemon.deploy(files))
    await daemon.outcome(await daemon.deploy(files, app="other"))
    first, second = daemon.builder.contexts
    assert first == second

    members = tar_members(first)
    assert set(members) == {"Dockerfile", "app.py", "static", "static/site.css", "current"}
    assert members["current"].issym() and members["current"].linkname == "static"
    assert members["static"].isdir()
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}
    assert len({m.mtime for m in members.values()}) == 1


async def test_nothing_is_written_outside_the_state_folder(daemon: Daemon, tmp_path: Path) -> None:
    chart = {
        "Chart.yaml": b"name: hello\n",
        "values.yaml": b"containerPort: 9000\n",
        "templates/x.yaml": b"{}\n",
    }
    await daemon.outcome(await daemon.deploy(APP, chart=chart))
    assert tree(tmp_path / "outside") == set()
    assert {p.split("/")[0] for p in tree(tmp_path)} == {"outside", "state"}
