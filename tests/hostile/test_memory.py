"""draftd's resident memory stays bounded under a stream of superseding builds of a big app:
each new build supersedes the last while it waits for its uploads, and what the superseded
ones held is let go."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kit import Draftd, build_settings
from waiting import until

from draftd.builds import KEEP_PER_KEY

FILES = 20_000
BUILDS = 100
LIMIT_MB = 200


def manifest(version: int) -> list[dict]:
    entries = [
        {"path": "Dockerfile", "digest": digest(b"FROM scratch\n"), "size": 13, "mode": 0o644}
    ]
    for number in range(FILES):
        data = f"module {number}, version {version if number == 0 else 0}\n".encode()
        path = f"src/package_{number // 500}/module_{number}.py"
        entries.append({"path": path, "digest": digest(data), "size": len(data), "mode": 0o644})
    return entries


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_100_superseded_builds_of_a_20000_file_app_stay_under_200_mb(tmp_path: Path) -> None:
    draftd = Draftd.started(tmp_path / "state")
    try:
        body = {"app": "big", "environment": "development", "manifest": manifest(0),
                "settings": build_settings("big"), "trigger": "save"}  # fmt: skip
        saved = body["manifest"][1]["digest"]
        raw = json.dumps(body).encode()
        started_mb = draftd.rss_mb()
        ids = []
        for version in range(BUILDS):
            # One file changes per save, as in an editor: each build supersedes the last.
            edited = digest(f"module 0, version {version}\n".encode())
            status, created = draftd.call(
                "POST",
                "/v1/builds",
                data=raw.replace(saved.encode(), edited.encode()),
                headers={"Content-Type": "application/json"},
                timeout=120,
            )
            assert status == 202, created
            assert len(created["missing"]) == FILES + 1  # nothing uploaded: every build waits
            ids.append(created["buildId"])
        kept = ids[-KEEP_PER_KEY:-1]  # draftd remembers the newest builds of an app

        def phase(build_id: str) -> str:
            return str(draftd.call("GET", f"/v1/builds/{build_id}")[1]["phase"])

        # Every build but the newest ended superseded; the newest waits for its uploads.
        until(
            lambda: all(phase(i) == "superseded" for i in kept) and phase(ids[-1]) != "queued",
            60,
            lambda: f"superseded and waiting: {[phase(i) for i in [*kept, ids[-1]]]}",
        )
        rss = draftd.rss_mb()
        print(f"draftd: {started_mb:.0f} MB at start, {rss:.0f} MB after {BUILDS} builds")
        assert rss < LIMIT_MB, f"{rss:.0f} MB after {BUILDS} superseded builds of {FILES} files"
        assert phase(ids[-1]) == "uploading"
    finally:
        draftd.stop()
