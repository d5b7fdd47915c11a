"""A burst of 200 saves under `draft up --watch`, on the real Docker engine: a hundred as fast
as the file system takes them, a hundred more over three seconds with pauses longer than the
quiet period, so deploys start mid-burst and saves land while a context is hashed, uploaded
and built (or synced into the running app). The newest text is served, no deploy fails and
nothing prints a traceback, and the watcher keeps watching: a later save is a deploy of its
own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kit import Draftd, read_line, scaffold, set_greeting, stop, wait_for_text

from draft import config

pytestmark = pytest.mark.docker

SAVES = 200
PAUSE = 0.25
"""Longer than the scaffolded watch_delay (0.2 s): a deploy starts, and the next saves land on it."""


@pytest.mark.parametrize("sync", [True, False], ids=["synced", "rebuilt"])
def test_a_burst_of_200_saves_ends_on_the_newest_text_and_the_watch_goes_on(
    tmp_path: Path, draftd: Draftd, sync: bool
) -> None:
    app = scaffold(tmp_path / "app", "burst-200", sync=sync)
    assert config.load(app).watch_delay < PAUSE, "the scaffolded quiet period is short"
    watching = draftd.draft_background("up", str(app), "--watch")
    try:
        url = read_line(watching.stdout, timeout=120).strip()
        wait_for_text(url, "Hello World!")
        started = time.monotonic()
        for save in range(1, SAVES + 1):
            set_greeting(app, f"save {save}")
            if save > SAVES // 2:  # the burst is the test's input, not a wait
                time.sleep(PAUSE if save % 10 == 0 else 0.005)
        burst = time.monotonic() - started
        wait_for_text(url, f"save {SAVES}", timeout=60)
        assert watching.poll() is None, "the watcher ended during the burst"
        set_greeting(app, "after the burst")
        wait_for_text(url, "after the burst", timeout=60)
        assert watching.poll() is None, "the watcher ended after the burst"
    finally:
        _, err = stop(watching)
    assert burst < 10, f"the saves themselves took {burst:.1f} s"
    assert "Traceback" not in err and "never retrieved" not in err, err[-3000:]
    assert "✗" not in err, err[-3000:]  # a save that lands mid-upload is sent again, not lost
    log = (draftd.state.parent / "draftd.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
