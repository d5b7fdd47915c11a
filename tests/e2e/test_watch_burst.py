"""`draft up --watch` as `draft create` scaffolds it (no watch_delay of the test's own): a burst
of saves — an editor's Save All, a formatter, a `git checkout` — is one deploy, of the newest
text; a save after the burst is a deploy of its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kit import Draftd, read_line, scaffold, set_greeting, stop, wait_for_text
from waiting import until

from draft import config

pytestmark = pytest.mark.docker

FILES = 20
SPREAD = 0.15
"""Twenty files written over 150 ms: what Save All or a small `git checkout` does."""


def history(draftd: Draftd, app: Path) -> list[dict[str, object]]:
    """The app's deploys, newest first: its builds but those superseded before deploying (the
    watcher builds during the quiet period, and a save in it supersedes that build)."""
    listed = draftd.draft("history", str(app), "-o", "json")
    assert listed.returncode == 0, listed.stderr
    builds: list[dict[str, object]] = json.loads(listed.stdout)
    return [b for b in builds if b["outcome"] != "superseded"]


def test_a_burst_of_twenty_saves_is_one_deploy_of_the_newest_text(
    tmp_path: Path, draftd: Draftd
) -> None:
    app = scaffold(tmp_path / "app", "burst-default")
    assert config.load(app).watch_delay < SPREAD * 2, "the scaffolded quiet period is short"
    (app / "notes").mkdir()
    watching = draftd.draft_background("up", str(app), "--watch")
    try:
        url = read_line(watching.stdout).strip()
        wait_for_text(url, "Hello World!")
        started = time.monotonic()
        for index in range(1, FILES + 1):
            if index % 5 == 0:  # app.py four times among the twenty, the last write last
                set_greeting(app, f"burst {index}")
            else:
                (app / "notes" / f"note-{index:02}.txt").write_text(f"note {index}\n")
            # Pace the writes over the spread (the burst is the test's input, not a wait).
            time.sleep(max(0.0, started + SPREAD * index / FILES - time.monotonic()))
        wait_for_text(url, f"burst {FILES}")
        until(
            lambda: [b["trigger"] for b in history(draftd, app)] == ["watch", "command"],
            60,
            lambda: f"the burst was not one deploy: {history(draftd, app)}",
        )
        # Would a second deploy of the burst still come? Save once more, wait until that
        # save is served and recorded, then look: the burst made exactly one build.
        set_greeting(app, "after the burst")
        wait_for_text(url, "after the burst")
        builds = until(
            lambda: (
                (found := history(draftd, app))[0]["trigger"] == "watch"
                and len(found) >= 3
                and found
            ),
            60,
            lambda: f"the save after the burst was not recorded: {history(draftd, app)}",
        )
    finally:
        stop(watching)
    assert [b["trigger"] for b in builds] == ["watch", "watch", "command"], builds
    assert [b["outcome"] for b in builds] == ["ready", "ready", "ready"], builds
