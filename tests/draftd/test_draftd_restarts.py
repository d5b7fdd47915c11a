"""draftd's state across stops, kills and restarts: private files, no stale lock-out, builds a
killed draftd left unfinished on record, partial uploads cleaned, old images pruned."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import docker.errors
import pytest
from daemon_kit import DOCKERFILE, Daemon, DaemonFactory, digest, manifest, settings
from kit import Draftd
from waiting import until, until_async

from draftd.builder import APP_LABEL, PushFailed
from draftd.docker_builder import DockerBuilder
from draftd.model import Image
from draftd.pipeline import KEEP_IMAGES

APP = {"Dockerfile": DOCKERFILE, "app.py": b"print('hi')\n"}
STUCK_DRAFTD = Path(__file__).with_name("stuck_draftd.py")


def build_body(app: str = "hello") -> dict:
    return {
        "app": app,
        "environment": "development",
        "manifest": manifest(APP),
        "settings": settings(app),
        "trigger": "save",
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_existing_state_folder_is_made_private_and_blobs_are_too(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    draftd = Draftd.started(state)
    try:
        assert mode(state) == 0o700
        assert mode(state / "token") == 0o600
        data = b"a secret in the app's code\n"
        assert draftd.call("PUT", f"/v1/blobs/{digest(data)}", data=data)[0] == 201
        (blob,) = (state / "blobs" / "sha256").glob(f"*/{digest(data)[7:]}")
        assert mode(blob) == 0o600
    finally:
        draftd.kill()


@pytest.fixture
def zombie() -> int:
    """The PID of a process that has exited and was never reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    until(
        lambda: Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] == "Z",
        5,
        "the child never exited",
    )
    yield child.pid
    child.wait(5)


@pytest.mark.parametrize("who", ["zombie", "reused"])
def test_a_stale_draftd_json_does_not_block_a_restart(
    tmp_path: Path, zombie: int, who: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    pid = zombie if who == "zombie" else os.getpid()  # a live process that is not draftd
    (state / "draftd.json").write_text(json.dumps({"pid": pid, "url": "http://127.0.0.1:1"}))
    draftd = Draftd.started(state)
    try:
        assert draftd.call("GET", "/v1/apps")[0] == 200
    finally:
        draftd.kill()


def test_a_second_draftd_on_the_same_state_is_refused(tmp_path: Path) -> None:
    first = Draftd.started(tmp_path / "state")
    try:
        second = subprocess.run(
            [sys.executable, "-m", "draftd", "--port", "0", "--state-dir", str(first.state)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert f"already runs with this state folder (pid {first.serving_pid()}" in second.stderr
        assert first.call("GET", "/v1/apps")[0] == 200
    finally:
        first.kill()


def test_a_build_killed_with_draftd_is_on_record_as_interrupted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stuck = Draftd.started(state, [sys.executable, str(STUCK_DRAFTD)])
    try:
        status, created = stuck.call("POST", "/v1/builds", build_body())
        assert status == 202
        for data in APP.values():
            stuck.call("PUT", f"/v1/blobs/{digest(data)}", data=data)
        until(
            lambda: stuck.call("GET", f"/v1/builds/{created['buildId']}")[1]["phase"] == "building",
            10,
            "the build never started building",
        )
    finally:
        stuck.kill()  # SIGKILL: no clean-up of any kind
    again = Draftd.started(state)
    try:
        status, history = again.call("GET", "/v1/apps/hello/development/history")
        assert status == 200
        (entry,) = history
        assert entry["buildId"] == created["buildId"]
        assert entry["outcome"] == "interrupted"
        assert "draftd stopped before the build ended" in entry["reason"]
        status, log = again.call("GET", f"/v1/builds/{created['buildId']}/log")
        assert status == 200 and "[interrupted]" in log
    finally:
        again.kill()


def test_partial_uploads_are_removed_when_draftd_starts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    partial = state / "blobs" / "tmp" / "upload-left-by-a-killed-draftd"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half of a file")
    draftd = Draftd.started(state)
    try:
        assert not partial.exists()
    finally:
        draftd.kill()


def test_partial_uploads_go_after_an_hour_not_30_days(tmp_path: Path) -> None:
    from draftd.blobs import BlobStore

    blobs = BlobStore(tmp_path / "blobs")
    old, fresh = (
        tmp_path / "blobs" / "tmp" / "upload-old",
        tmp_path / "blobs" / "tmp" / "upload-new",
    )
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert blobs.collect_uploads(3600) == 1
    assert not old.exists() and fresh.exists()


@pytest.fixture
def silent_registry() -> str:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


@pytest.mark.asyncio
async def test_a_registry_that_never_answers_is_reported_fast(silent_registry: str) -> None:
    started = time.monotonic()
    with pytest.raises(PushFailed) as refused:
        await DockerBuilder().pushed(Image(f"{silent_registry}/hello", "abc"))
    assert time.monotonic() - started < 5
    assert refused.value.message == (
        f"The registry {silent_registry} accepts connections but did not answer within 3 s."
    )
    assert "docker login" not in str(refused.value)


@pytest.mark.asyncio
async def test_a_registry_that_refuses_is_reported_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(PushFailed, match=f"127.0.0.1:{port} cannot be reached"):
        await DockerBuilder().pushed(Image(f"127.0.0.1:{port}/hello", "abc"))
    assert time.monotonic() - started < 1


@pytest.mark.asyncio
async def test_old_images_of_an_app_are_pruned_once_its_saves_stop(
    daemons: DaemonFactory,
) -> None:
    """Not while saves come one after another: removing images slows the engine's next
    build. Once the app has had no build for `prune_quiet` seconds."""
    daemon = await daemons.start(prune_quiet=1.0)
    for version in range(6):
        files = {**APP, "app.py": f"print({version})\n".encode()}
        assert (await daemon.outcome(await daemon.deploy(files)))["phase"] == "ready"

    def apps_images() -> list[Image]:
        return [i for i, labels in daemon.builder.images.items() if labels[APP_LABEL] == "hello"]

    assert len(apps_images()) == 6, "pruned between saves one after another"
    await until_async(
        lambda: len(apps_images()) <= KEEP_IMAGES, 10, lambda: f"never pruned: {apps_images()}"
    )
    kept = apps_images()
    assert len(kept) == KEEP_IMAGES
    status, answer = await daemon.request("DELETE", "/v1/apps/hello/development?pruneImages=1")
    assert status == 200 and answer["deleted"] is True
    assert len(answer["prunedImages"]) == KEEP_IMAGES - 1
    assert [i.reference for i in daemon.builder.images] == [kept[-1].reference]


@pytest.mark.asyncio
async def test_pruning_never_removes_the_image_of_a_build_in_flight(daemon: Daemon) -> None:
    first = await daemon.post_build(APP)
    await daemon.upload(APP, first["missing"])
    assert (await daemon.outcome(first["buildId"]))["phase"] == "ready"
    edited = {**APP, "app.py": b"print('edited')\n"}
    second = await daemon.post_build(edited)
    held = daemon.target.hold(second["buildId"])
    await daemon.upload(edited, second["missing"])
    await until_async(  # built, now deploying
        lambda: second["buildId"] in daemon.target.started, 5, "the second build never deployed"
    )
    assert daemon.services is not None
    removed = await daemon.services.pipeline.prune_images("hello", 0)
    assert removed == [f"hello:{first['tag']}"]
    assert Image("hello", second["tag"]) in daemon.builder.images
    held.set()
    assert (await daemon.outcome(second["buildId"]))["phase"] == "ready"


def build_context(base: str, version: int) -> io.BytesIO:
    """A two-file build context: `base` with a file `v` holding `version`."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {
            "Dockerfile": f"FROM {base}\nCOPY v /v\n".encode(),
            "v": str(version).encode(),
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    return context


@pytest.mark.docker
@pytest.mark.asyncio
async def test_the_docker_builder_prunes_only_the_apps_own_old_images(
    docker_engine, python_base_image: str, tmp_path: Path
) -> None:
    app = f"prune-{os.getpid()}"
    images = []
    try:
        for version in range(4):
            # A draftd restart between builds: the record of what it built is its state's.
            builder = DockerBuilder(tmp_path / "images.json")
            image = Image(app, f"v{version}")
            await builder.build(
                build_context(python_base_image, version), image, dockerfile="Dockerfile",
                build_args={}, labels={APP_LABEL: app}, log=lambda line: None,
            )  # fmt: skip
            images.append(image)
        removed = await builder.prune(app, 2)
        assert sorted(removed) == sorted(i.reference for i in images[:2])
        assert [await builder.exists(i) for i in images] == [False, False, True, True]
        assert await builder.exists(Image(*python_base_image.split(":")))
    finally:
        for image in images:
            with contextlib.suppress(docker.errors.DockerException):
                docker_engine.images.remove(image.reference)


@pytest.mark.docker
@pytest.mark.asyncio
async def test_an_images_app_is_draftds_record_not_a_step_added_to_the_build(
    docker_engine, python_base_image: str, tmp_path: Path
) -> None:
    """The engine's builder would run a label as one more step (a container created and
    committed on every build): the build runs the Dockerfile's steps only, and the app an
    image belongs to is known from draftd's record, across restarts, whatever the Dockerfile
    labels itself."""
    app = f"labels-{os.getpid()}"
    image = Image(app, "v1")
    lines: list[str] = []
    try:
        await DockerBuilder(tmp_path / "images.json").build(
            build_context(python_base_image, 1), image, dockerfile="Dockerfile",
            build_args={}, labels={APP_LABEL: app}, log=lines.append,
        )  # fmt: skip
        steps = [line.split(" ", 1)[1] for line in lines if re.match(r"#\d+ \[\d+/\d+\] ", line)]
        assert steps[-1] == "[2/2] COPY v /v", lines
        again = DockerBuilder(tmp_path / "images.json")
        assert (await again.labels(image) or {}).get(APP_LABEL) == app
        assert (await again.labels(Image(*python_base_image.split(":")))) is not None
        assert (await again.labels(Image(*python_base_image.split(":"))) or {}).get(
            APP_LABEL
        ) is None
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            docker_engine.images.remove(image.reference)
