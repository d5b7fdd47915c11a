"""`draft up` end to end, as a developer uses it: the real CLI, a real draftd, the real Docker
engine and the loopback registry. examples/python is the app (the Flask "Hello World!")."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from kit import (
    Draftd,
    fetch,
    free_port,
    read_line,
    removing_new_containers,
    scaffold,
    set_greeting,
    stop,
    wait_for_text,
)
from waiting import until

from draftd.pipeline import PRUNE_QUIET

pytestmark = pytest.mark.docker


@pytest.fixture
def draftd(
    tmp_path: Path, docker_engine: docker.DockerClient, python_base_image: str
) -> Iterator[Draftd]:
    """Where this test's draftd runs; not started: `draft up` starts it by itself."""
    daemon = Draftd(tmp_path / "state", free_port())
    with removing_new_containers(docker_engine):
        yield daemon
    daemon.stop()


def up_url(result_stdout: str) -> str:
    return result_stdout.strip().splitlines()[-1]


def test_up_serves_hello_world_then_watch_serves_each_change(
    tmp_path: Path, draftd: Draftd
) -> None:
    app = scaffold(tmp_path / "app", "hello-e2e", watch_delay=0.5)

    first = draftd.draft("up", str(app), "--no-watch")
    assert first.returncode == 0, first.stderr
    url = up_url(first.stdout)
    assert url.startswith("http://127.0.0.1:")
    assert fetch(url) == "Hello World!"
    assert (draftd.state / "draftd.json").exists(), "draft up starts draftd when none answers"

    watching = draftd.draft_background("up", str(app), "--watch")
    try:
        assert read_line(watching.stdout).strip() == url, "a redeploy keeps the app's URL"
        set_greeting(app, "Hello, Draft!")
        wait_for_text(url, "Hello, Draft!")
    finally:
        stop(watching)


def test_a_one_line_change_uploads_only_that_file(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "one-line")
    assert draftd.draft("up", str(app), "--no-watch").returncode == 0
    before = draftd.blobs()

    set_greeting(app, "One line changed")
    again = draftd.draft("up", str(app), "--no-watch")
    assert again.returncode == 0, again.stderr

    received = draftd.blobs() - before
    from draft.manifest import build_context

    app_py = next(e for e in build_context(app) if e.path == "app.py")
    assert received == {app_py.digest}
    assert fetch(up_url(again.stdout)) == "One line changed"


@pytest.mark.parametrize("sync", [True, False], ids=["synced", "rebuilt"])
def test_twenty_changes_in_two_seconds_end_on_the_last_and_never_go_back(
    tmp_path: Path, draftd: Draftd, sync: bool
) -> None:
    app = scaffold(tmp_path / "app", "burst", watch_delay=0.05, sync=sync)
    watching = draftd.draft_background("up", str(app), "--watch")
    seen: list[int] = []
    done = threading.Event()
    try:
        url = read_line(watching.stdout).strip()
        assert fetch(url) == "Hello World!"

        def poll() -> None:
            while not done.is_set():
                text = fetch(url) or ""
                if text.startswith("version "):
                    seen.append(int(text.split()[1]))
                time.sleep(0.02)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        for version in range(1, 21):
            set_greeting(app, f"version {version}")
            time.sleep(0.1)
        wait_for_text(url, "version 20", timeout=180)
        # Would an older build still land after the newest? Stop sending saves, then stop
        # draftd: it ends after the deploys it has under way, so every one has landed.
        stop(watching)
        draftd.stop()
        done.set()
        poller.join(10)
    finally:
        done.set()
        stop(watching)
    assert seen[-1] == 20
    assert seen == sorted(seen), f"an older text was served after a newer one: {seen}"


def test_with_a_registry_the_deployed_image_is_the_pushed_tag(
    tmp_path: Path,
    draftd: Draftd,
    registry: str,
    docker_engine: docker.DockerClient,
) -> None:
    app = scaffold(tmp_path / "app", "pushed-app", registry=registry)
    result = draftd.draft("up", str(app), "--no-watch", "-o", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert "pushing" in {e["phase"] for e in events}
    assert events[-1]["kind"] == "result" and events[-1]["phase"] == "ready"

    with urllib.request.urlopen(f"http://{registry}/v2/_catalog", timeout=10) as answer:
        assert "pushed-app" in json.load(answer)["repositories"]
    with urllib.request.urlopen(f"http://{registry}/v2/pushed-app/tags/list", timeout=10) as answer:
        tags = json.load(answer)["tags"]
    container = docker_engine.containers.get("draft-pushed-app-development")
    image = container.attrs["Config"]["Image"]
    repository, tag = image.rsplit(":", 1)
    assert repository == f"{registry}/pushed-app"
    assert tag in tags
    assert fetch(events[-1]["url"]) == "Hello World!"


def test_a_failing_build_says_which_step_failed(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "broken-build")
    (app / "requirements.txt").write_text("this-package-does-not-exist-anywhere==0.0.0\n")
    result = draftd.draft("up", str(app), "--no-watch")
    assert result.returncode == 1
    assert re.search(r"\] RUN .*pip install -r requirements.txt failed", result.stderr)
    assert "Traceback" not in result.stderr


def test_an_app_that_crashes_is_reported_with_its_logs(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "crashing")
    (app / "app.py").write_text('raise SystemExit("missing DATABASE_URL")\n')
    result = draftd.draft("up", str(app), "--no-watch")
    assert result.returncode == 1
    assert "exited with code 1" in result.stderr
    assert "missing DATABASE_URL" in result.stderr


def test_logs_status_connect_and_delete(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "lifecycle")
    url = up_url(draftd.draft("up", str(app), "--no-watch").stdout)
    fetch(url)
    assert "Running on" in draftd.draft("logs", str(app)).stdout
    status = draftd.draft("status", str(app))
    assert f"lifecycle/development on docker: running at {url}" in status.stdout
    assert draftd.draft("connect", str(app)).stdout.strip() == url
    assert draftd.draft("delete", str(app)).stdout.strip() == "Deleted."
    assert fetch(url) is None
    assert draftd.draft("delete", str(app)).stdout.strip() == "Nothing was deployed."


def test_old_images_are_pruned_and_delete_prunes_the_rest(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "pruned-app", sync=False)
    for number in range(5):
        set_greeting(app, f"Version {number}")
        result = draftd.draft("up", str(app), "--no-watch")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # draftd prunes once the app has had no build for PRUNE_QUIET seconds. The plain
    # listing: images.list() inspects each one, racing draftd's pruning.
    until(
        lambda: len(docker_engine.api.images(name="pruned-app")) <= 3,
        PRUNE_QUIET + 20,
        lambda: f"never pruned: {docker_engine.api.images(name='pruned-app')}",
    )
    deleted = draftd.draft("delete", str(app), "--prune-images", "1")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.splitlines()[:2] == [
        "Deleted.",
        "Removed 2 images of the app (kept the newest 1).",
    ]
    (kept,) = docker_engine.images.list(name="pruned-app")
    docker_engine.images.remove(kept.id, force=True)


def test_docker_stopped_fails_fast_with_one_clear_sentence(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "no-engine")
    draftd.extra_env["DOCKER_HOST"] = f"unix://{tmp_path}/no-docker.sock"
    started = time.monotonic()
    result = draftd.draft("up", str(app), "--no-watch", timeout=60)
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    assert "The Docker engine is not running" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
