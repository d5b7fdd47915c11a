"""draftd's parts on their own: bounded event logs, ids, tags, the chart folder, the daemon's files."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from daemon_kit import DOCKERFILE, FakeBuilder, FakeTarget, Link, digest, manifest, settings
from waiting import until, until_async

from draftd.blobs import BlobStore
from draftd.builds import EventLog, new_build_id
from draftd.buildspec import RequestRefused, parse_build_request
from draftd.contexts import ManifestRefused, context_tag, materialize, validate_manifest
from draftd.daemon import Options, local_url, resolve_token, run
from draftd.model import BuildEvent
from draftd.ports import exposed_port
from draftd.redact import redactor
from draftd.wire import Phase


def event(seq: int, kind: str = "log", phase: Phase = Phase.BUILDING) -> BuildEvent:
    return BuildEvent(seq, "b-1", "hello", "development", kind, phase, f"line {seq}", 0, 0.0)  # type: ignore[arg-type]


def test_a_chatty_build_keeps_its_first_and_last_lines_and_every_phase() -> None:
    log = EventLog(limit=10)
    log.append(event(1, "phase", Phase.QUEUED))
    for seq in range(2, 60):
        log.append(event(seq, "phase", Phase.PUSHING) if seq == 30 else event(seq))
    kept = log.since(0)
    assert [e.seq for e in kept if e.kind == "phase"] == [1, 30]
    lines = [e.message for e in kept if e.kind != "phase"]
    assert lines[:5] == [f"line {n}" for n in range(2, 7)]  # the first lines stay
    assert lines[5] == "[draftd: 47 log lines left out here to bound memory]"
    assert lines[6:] == [f"line {n}" for n in range(55, 60)]  # and the newest
    assert [e.seq for e in log.since(56)] == [57, 58, 59]


def test_build_ids_are_unique_and_sort_by_time() -> None:
    ids = [new_build_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert ids == sorted(ids)
    assert all(len(i) == 14 and i.startswith("b-") for i in ids)


def files(**overrides):
    base = {"Dockerfile": DOCKERFILE, "app.py": b"print(1)\n", "cur": Link("app.py")}
    return validate_manifest(manifest(base | overrides), max_size=1 << 20)


def test_content_tag_changes_with_the_content_the_dockerfile_or_the_build_args() -> None:
    tag = context_tag(files(), settings())
    assert tag == context_tag(files(), settings(registry="elsewhere", set=["a=b"]))
    assert len(tag) == 16 and int(tag, 16) >= 0
    assert tag != context_tag(files(**{"app.py": b"print(2)\n"}), settings())
    assert tag != context_tag(files(), settings(image_build_args={"V": "1"}))
    assert tag != context_tag(files(), settings(dockerfile="app.py"))


def test_chart_is_written_inside_its_folder_with_links_last(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    contents = {"Chart.yaml": b"name: hello\n", "templates/deployment.yaml": b"kind: Deployment\n"}
    for data in contents.values():
        blobs._store_bytes(digest(data), data)
    chart = validate_manifest(
        manifest({**contents, "templates/current.yaml": Link("deployment.yaml")}), max_size=1 << 20
    )
    target = tmp_path / "builds" / "b-1" / "chart"
    materialize(chart, blobs, target)
    assert (target / "templates" / "deployment.yaml").read_bytes() == b"kind: Deployment\n"
    assert (target / "templates" / "current.yaml").readlink() == Path("deployment.yaml")
    assert stat.S_IMODE((target / "Chart.yaml").stat().st_mode) == 0o644
    with pytest.raises(FileExistsError):
        materialize(chart, blobs, target)  # only ever into a new folder


def test_chart_entries_that_would_write_through_a_link_are_refused() -> None:
    hostile = {"templates": Link("."), "templates/x.yaml": b"x"}
    with pytest.raises(ManifestRefused, match="inside 'templates', which is a link"):
        validate_manifest(manifest(hostile), max_size=100, what="chart")


def test_link_loops_are_refused() -> None:
    with pytest.raises(ManifestRefused, match="loop"):
        validate_manifest(manifest({"a": Link("b"), "b": Link("a")}), max_size=100)


def test_a_link_digest_must_be_that_of_its_target() -> None:
    entry = {**manifest({"a": Link("b")})[0], "digest": digest(b"other")}
    with pytest.raises(ManifestRefused, match="digest is not that of its target"):
        validate_manifest([entry], max_size=100)


@pytest.mark.parametrize(
    ("dockerfile", "port"),
    [
        ("FROM x\nEXPOSE 3000\n", 3000),
        ("FROM x\nEXPOSE 3000\nEXPOSE 4000/tcp 5000\n", 4000),
        ("FROM x\nEXPOSE \\\n  9090\n", 9090),
        ("FROM x\nexpose 53/udp 8081\n", 8081),
        ("FROM x\nEXPOSE $PORT\n", None),
        ("FROM x\n# EXPOSE 1234\n", None),
    ],
)
def test_port_from_the_dockerfile(dockerfile: str, port: int | None) -> None:
    assert exposed_port(dockerfile) == port


def test_secrets_are_masked_but_short_and_ordinary_values_are_not() -> None:
    redact = redactor(
        {"TOKEN": "abcd1234", "DEBUG": "1"}, ["db.Password=pa55word", "replicas=2000"], ["tok3n"]
    )
    assert redact("abcd1234 pa55word tok3n 2000 1") == "*** *** *** 2000 1"


def test_blob_garbage_collection_keeps_recent_and_named_blobs(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    old, kept, recent = b"old", b"kept", b"recent"
    for data in (old, kept, recent):
        blobs._store_bytes(digest(data), data)
    long_ago = time.time() - 40 * 24 * 3600
    for data in (old, kept):
        os.utime(blobs.path(digest(data)), (long_ago, long_ago))
    assert blobs.collect_garbage(30 * 24 * 3600, keep=[digest(kept)]) == 1
    assert blobs.missing([digest(old), digest(kept), digest(recent)]) == [digest(old)]


def options(tmp_path: Path, **overrides) -> Options:
    base = Options("127.0.0.1", 0, tmp_path / "state", None, 1 << 20, "INFO")
    return Options(**{**base.__dict__, **overrides})


def test_token_is_generated_once_into_a_private_file_on_loopback_too(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    token = resolve_token(options(tmp_path))
    path = tmp_path / "state" / "token"
    assert token and path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_token(options(tmp_path, host="0.0.0.0")) == token
    assert resolve_token(options(tmp_path, host="0.0.0.0", token="given")) == "given"


def test_local_url_reaches_a_wildcard_bind_through_loopback() -> None:
    assert local_url("0.0.0.0", 7878) == "http://127.0.0.1:7878"
    assert local_url("::", 7878) == "http://[::1]:7878"
    assert local_url("127.0.0.1", 1) == "http://127.0.0.1:1"


@pytest.mark.asyncio
async def test_daemon_announces_itself_while_serving_and_not_after(tmp_path: Path) -> None:
    info = tmp_path / "state" / "draftd.json"
    serving = asyncio.create_task(
        run(options(tmp_path), lambda _: (FakeBuilder(), {"docker": FakeTarget()}))
    )
    await until_async(info.exists, 10, "draftd did not announce itself")
    announced = json.loads(info.read_text())
    assert announced["pid"] == os.getpid() and announced["url"].startswith("http://127.0.0.1:")
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(announced["url"] + "/v1/health") as response,
    ):
        assert (await response.json())["version"] == announced["version"]
    os.kill(os.getpid(), signal.SIGTERM)  # draftd's own handler turns it into a clean stop
    await asyncio.wait_for(serving, 10)
    assert not info.exists()


def test_draftd_command_starts_with_the_real_builder_and_stops_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "draftd", "--port", "0", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def announced() -> bool:
        if process.poll() is not None:  # it ended: say what it printed
            raise AssertionError(process.communicate(timeout=10)[0].decode())
        return (state / "draftd.json").exists()

    try:
        until(announced, 30, "draftd did not announce itself")
        assert json.loads((state / "draftd.json").read_text())["pid"] == process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    assert not (state / "draftd.json").exists()


def test_sync_defaults_to_on_for_older_clients_and_must_be_a_boolean() -> None:
    body = {
        "app": "hello",
        "environment": "development",
        "manifest": manifest({"Dockerfile": DOCKERFILE}),
        "settings": settings(),
    }
    assert parse_build_request(body, max_blob=1024).settings["sync"] is True
    body["settings"] = settings(sync="yes")
    with pytest.raises(RequestRefused, match=r"settings\.sync must be true or false"):
        parse_build_request(body, max_blob=1024)
