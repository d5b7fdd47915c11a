"""Where a deploy's time went, as users see it: `draft up` prints each stage on `✓ ready`,
`draft history` (table and JSON) lists them, for a build (upload, build, push, deploy, ready)
and for a synced save (upload, sync, ready)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from kit import Draftd, scaffold, set_greeting

pytestmark = pytest.mark.docker

READY_LINE = re.compile(r"^✓ ready at (\S+) \((.+)\)$", re.MULTILINE)
STAGE = re.compile(r"^(upload|build|push|deploy|sync|ready) (\d+\.\d\d) s$")


def printed_stages(stderr: str) -> list[str]:
    """The stages `draft up` printed on its `✓ ready` line, checked for their form."""
    match = READY_LINE.search(stderr)
    assert match, f"no `✓ ready at URL (stages)` line in:\n{stderr}"
    parts = match.group(2).split(", ")
    assert all(STAGE.match(part) for part in parts), parts
    return [part.split()[0] for part in parts]


def test_up_and_history_show_each_stage_of_a_build_and_of_a_synced_save(
    tmp_path: Path, draftd: Draftd, registry: str
) -> None:
    app = scaffold(tmp_path / "app", "timed-app", registry=registry)
    built = draftd.draft("up", str(app), "--no-watch")
    assert built.returncode == 0, built.stderr
    assert printed_stages(built.stderr) == ["upload", "build", "push", "deploy", "ready"]

    set_greeting(app, "Timed save")
    synced = draftd.draft("up", str(app), "--no-watch")
    assert synced.returncode == 0, synced.stderr
    assert printed_stages(synced.stderr) == ["upload", "sync", "ready"]

    listed = json.loads(draftd.draft("history", str(app), "-o", "json").stdout)
    assert [[s["stage"] for s in b["stages"]] for b in listed] == [
        ["upload", "sync", "ready"],
        ["upload", "build", "push", "deploy", "ready"],
    ]
    for build in listed:
        assert all(isinstance(s["ms"], int) and s["ms"] >= 0 for s in build["stages"])
        assert sum(s["ms"] for s in build["stages"]) <= build["durationMs"] + 5, build

    table = draftd.draft("history", str(app))
    assert table.returncode == 0, table.stderr
    header, newest, oldest = table.stdout.splitlines()
    assert header.split()[-1] == "STAGES"
    assert re.search(r"upload \d+\.\d\d s, sync \d+\.\d\d s, ready \d+\.\d\d s$", newest)
    assert re.search(r"push \d+\.\d\d s, deploy \d+\.\d\d s, ready \d+\.\d\d s$", oldest)


def test_json_output_carries_the_stages_on_the_ready_event(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "timed-json")
    result = draftd.draft("up", str(app), "--no-watch", "-o", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    ready = [e for e in events if e["phase"] == "ready"]
    assert ready and all(
        [s["stage"] for s in e["stages"]] == ["upload", "build", "deploy", "ready"] for e in ready
    ), ready
    assert re.fullmatch(
        r"upload \S+ s, build \S+ s, deploy \S+ s, ready \S+ s", ready[-1]["timings"]
    )
