"""`draft history` and `draft logs BUILD_ID`: draftd remembers an app's builds — what was built,
when, how long, how it ended, what triggered it — and still does after it restarts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from kit import Draftd, scaffold, set_greeting

pytestmark = pytest.mark.docker


def test_three_ups_are_listed_newest_first_and_survive_a_restart(
    tmp_path: Path, draftd: Draftd
) -> None:
    app = scaffold(tmp_path / "app", "history-app")
    assert draftd.draft("up", str(app), "--no-watch").returncode == 0
    set_greeting(app, "Second")
    assert draftd.draft("up", str(app), "--no-watch").returncode == 0
    (app / "requirements.txt").write_text("no-such-package-anywhere==0.0.0\n")
    assert draftd.draft("up", str(app), "--no-watch").returncode == 1

    listed = json.loads(draftd.draft("history", str(app), "-o", "json").stdout)
    assert [b["outcome"] for b in listed] == ["failed", "ready", "ready"]
    assert len({b["tag"] for b in listed}) == 3
    assert all(b["trigger"] == "command" and b["durationMs"] > 0 for b in listed)
    assert listed[0]["startedAt"] >= listed[1]["startedAt"] >= listed[2]["startedAt"]
    assert "pip install -r requirements.txt failed" in listed[0]["reason"]

    draftd.stop()
    draftd.start()
    table = draftd.draft("history", str(app))
    assert table.returncode == 0
    rows = table.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == [b["buildId"] for b in listed]
    assert "failed" in rows[0] and "ready" in rows[1]

    log = draftd.draft("logs", listed[0]["buildId"])
    assert log.returncode == 0
    assert re.search(r"\[(\S+ )?\d+/\d+\] RUN .*pip install -r requirements.txt", log.stdout), (
        log.stdout
    )
    unknown = draftd.draft("logs", "b-aaaaaaaaaaaa")
    assert unknown.returncode == 1 and "no build b-aaaaaaaaaaaa" in unknown.stderr
