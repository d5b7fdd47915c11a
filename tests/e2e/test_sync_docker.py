"""Saves synced into the running app on the docker target, end to end: the real CLI and
draftd, the real Docker engine, examples/python (whose Dockerfile copies the code after its
last RUN, so editing app.py needs no image build, and editing requirements.txt does)."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container
from kit import (
    Draftd,
    fetch,
    messages,
    phases,
    scaffold,
    set_greeting,
    up_events,
    warm_app,
)
from waiting import until

pytestmark = pytest.mark.docker


def container_id(engine: docker.DockerClient, app: str) -> str:
    return str(engine.containers.get(f"draft-{app}-development").id)


def test_editing_the_code_syncs_it_into_the_same_container_without_a_build(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "synced")
    first = up_events(draftd, app)
    url = first[-1]["url"]
    container = container_id(docker_engine, "synced")
    images = docker_engine.images.list(name="synced")
    running = docker_engine.containers.get(container)
    stat = ["stat", "-c", "%u:%g %a", "/app/app.py"]
    built = running.exec_run(stat).output

    set_greeting(app, "Synced, not rebuilt")
    second = up_events(draftd, app)

    assert "building" not in phases(second)
    assert "syncing app.py into the running app" in messages(second)
    assert second[-1]["url"] == url
    assert fetch(url) == "Synced, not rebuilt"
    assert container_id(docker_engine, "synced") == container, "the same container serves it"
    assert docker_engine.images.list(name="synced") == images, "no image was built"
    assert running.exec_run(stat).output == built, "the owner and mode the build gave it"
    status = draftd.draft("status", str(app), "-o", "json")
    assert json.loads(status.stdout)["buildId"] == second[-1]["buildId"]


def test_a_save_reaches_code_an_image_keeps_in_a_volume(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    """The app's folder is a volume (the image says `VOLUME /app`): the file goes into the
    volume the app reads, not into the container's own layer beneath it."""
    app = scaffold(tmp_path / "app", "volume")
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "VOLUME /app\n")
    url = up_events(draftd, app)[-1]["url"]

    set_greeting(app, "Into the volume")
    events = up_events(draftd, app)

    assert "syncing app.py into the running app" in messages(events)
    assert fetch(url) == "Into the volume"


def test_a_dependency_change_builds_the_image_and_says_why(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "deps-change")
    up_events(draftd, app)
    container = container_id(docker_engine, "deps-change")

    requirements = app / "requirements.txt"
    requirements.write_text(requirements.read_text() + "# pinned later\n")
    set_greeting(app, "Rebuilt for new requirements")
    events = up_events(draftd, app)

    assert "building" in phases(events)
    assert (
        "building the image: requirements.txt changed, and the Dockerfile runs a build step "
        "(RUN) after copying it" in messages(events)
    )
    assert container_id(docker_engine, "deps-change") != container
    assert fetch(events[-1]["url"]) == "Rebuilt for new requirements"


def test_with_sync_false_every_save_builds_the_image(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "no-sync", sync=False)
    up_events(draftd, app)
    container = container_id(docker_engine, "no-sync")

    set_greeting(app, "Built again")
    events = up_events(draftd, app)

    assert "building" in phases(events)
    assert container_id(docker_engine, "no-sync") != container
    assert fetch(events[-1]["url"]) == "Built again"
    entrypoint = docker_engine.containers.get("draft-no-sync-development").attrs["Config"]
    assert entrypoint["Entrypoint"] is None, "without sync the image runs as it is"


def test_a_synced_crash_is_reported_and_the_next_save_recovers(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "sync-crash")
    url = up_events(draftd, app)[-1]["url"]
    source = (app / "app.py").read_text()

    (app / "app.py").write_text(source.replace("app = Flask(__name__)", "app = Flask(__name__"))
    failed = draftd.draft("up", str(app), "--no-watch")
    assert failed.returncode == 1
    assert "exited with code 1" in failed.stderr
    assert "SyntaxError" in failed.stderr, "the app's own last lines say what is wrong"

    (app / "app.py").write_text(source)
    set_greeting(app, "Fixed")
    assert up_events(draftd, app)[-1]["url"] == url
    assert fetch(url) == "Fixed"


def test_a_container_removed_by_hand_is_replaced_by_a_build(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "removed")
    up_events(draftd, app)
    docker_engine.containers.get("draft-removed-development").remove(force=True)

    set_greeting(app, "Back again")
    events = up_events(draftd, app)

    assert "building the image: the app's container was stopped or replaced" in messages(events)
    assert "deploying to docker" in messages(events)
    assert fetch(events[-1]["url"]) == "Back again"


def test_the_wrapper_passes_stop_to_the_app(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "stoppable")
    up_events(draftd, app)
    container = docker_engine.containers.get("draft-stoppable-development")
    container.stop(timeout=30)
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 143, "the app ended on SIGTERM, not SIGKILL"


def python_processes(container: Container) -> list[str]:
    """The container's `python app.py` processes (their host pids), as `docker top` lists them."""
    top = container.top()
    command = top["Titles"].index("CMD")
    pid = top["Titles"].index("PID")
    return [row[pid] for row in top["Processes"] if row[command] == "python app.py"]


def test_a_synced_save_restarts_python_with_its_libraries_already_imported(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "warm")
    warm_app(app)
    url = up_events(draftd, app)[-1]["url"]
    assert fetch(url) == "first warm=False", "the first start imports Flask itself"
    container = docker_engine.containers.get("draft-warm-development")
    first, spare = until(
        lambda: len(found := python_processes(container)) == 2 and found,
        30,
        lambda: f"no spare beside the app: {python_processes(container)}",
    )

    (app / "greeting.py").write_text('TEXT = "second"\n')
    events = up_events(draftd, app)

    assert "building" not in phases(events)
    assert fetch(url) == "second warm=True", "the spare imported Flask; the app's module is new"
    until(
        lambda: (
            first not in (found := python_processes(container))
            and spare in found
            and len(found) == 2
        ),
        30,
        lambda: f"the spare {spare} did not take over from {first}: {python_processes(container)}",
    )


def test_draft_warm_0_restarts_python_cold_with_no_spare(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "cold")
    warm_app(app)
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("WORKDIR /app", "ENV DRAFT_WARM=0\nWORKDIR /app")
    )
    url = up_events(draftd, app)[-1]["url"]

    (app / "greeting.py").write_text('TEXT = "second"\n')
    up_events(draftd, app)

    assert fetch(url) == "second warm=False"
    container = docker_engine.containers.get("draft-cold-development")
    assert len(python_processes(container)) == 1, "no spare"
