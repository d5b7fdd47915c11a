"""kill -9 of draftd in the middle of an upload, a build and a deploy: the next `draft up`
starts a new draftd by itself, deploys, and serves; the killed build is on record as
interrupted, and nothing the killed draftd left half-done stays behind."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from pathlib import Path

import pytest
from kit import Draftd, read_line, scaffold, wait_for_text
from waiting import until

from draft import config
from draft.deploy import build_request

pytestmark = pytest.mark.docker
HELLO = "Hello World!"


def up_url(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def recovered(draftd: Draftd, app: Path, killed: str | None) -> list[dict]:
    """`draft up` after the kill: it deploys and serves; what the killed draftd left is gone."""
    url = up_url(draftd.draft("up", str(app), "--no-watch"))
    wait_for_text(url, HELLO)
    assert list((draftd.state / "blobs" / "tmp").iterdir()) == []
    history = json.loads(draftd.draft("history", str(app), "-o", "json").stdout)
    assert history[0]["outcome"] == "ready"
    if killed is not None:
        (entry,) = [b for b in history if b["buildId"] == killed]
        assert entry["outcome"] == "interrupted", entry
        assert "draftd stopped before the build ended" in entry["reason"]
    return history


def test_kill_9_during_an_upload(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "killed-upload", sync=False)
    (app / "big.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    body, entries = build_request(app, config.load(app, None), "command", None)
    status, created = draftd.call("POST", "/v1/builds", body)
    assert status == 202
    big = next(e for e in entries if e.path == "big.bin")
    assert big.digest in created["missing"]
    connection = http.client.HTTPConnection("127.0.0.1", draftd.port, timeout=30)
    connection.putrequest("PUT", f"/v1/blobs/{big.digest}")
    connection.putheader("Authorization", f"Bearer {draftd.token}")
    connection.putheader("Content-Length", str(big.size))
    connection.endheaders()
    connection.send((app / "big.bin").read_bytes()[: 5 * 1024 * 1024])
    partial = draftd.state / "blobs" / "tmp"
    until(
        lambda: any(p.stat().st_size > 0 for p in partial.iterdir()),
        10,
        "the upload never reached the disk",
    )
    draftd.kill()
    connection.close()
    recovered(draftd, app, created["buildId"])


def test_kill_9_during_a_build(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "killed-build", sync=False)
    dockerfile = app / "Dockerfile"
    original = dockerfile.read_text()
    slow = original.replace("WORKDIR /app\n", "WORKDIR /app\nRUN sleep 60\n", 1)
    assert slow != original
    dockerfile.write_text(slow)
    killed = kill_when(draftd, app, "RUN sleep 60")
    dockerfile.write_text(original)
    recovered(draftd, app, killed)


def test_kill_9_during_a_deploy(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "killed-deploy", sync=False)
    source = app / "app.py"
    original = source.read_text()
    source.write_text("import time\ntime.sleep(60)\n" + original)  # never answers in time
    killed = kill_when(draftd, app, "waiting for the app to answer")
    source.write_text(original)
    history = recovered(draftd, app, killed)
    assert [b["outcome"] for b in history] == ["ready", "interrupted"]


def kill_when(draftd: Draftd, app: Path, seen: str) -> str:
    """Start `draft up`, kill -9 its draftd once the build's events say `seen`; the build id."""
    process = draftd.draft_background("up", str(app), "--no-watch", "-o", "json")
    build_id = None
    try:
        while True:
            line = read_line(process.stdout)  # each line within 300 s, else it fails
            if not line:  # the end of its output
                _, err = process.communicate(timeout=30)
                raise AssertionError(f"draft up ended before {seen!r}: {err}")
            event = json.loads(line) if line.startswith("{") else {}
            build_id = event.get("buildId") or build_id
            if seen in line:
                break
        draftd.kill()
    finally:
        process.kill()
        process.wait(30)
    assert build_id is not None
    return build_id
