"""Each pack whose base images this machine can make (scripts/build-base-images.sh) deployed
end to end on the local Docker engine from its example, as a new user would: `draft create`,
`draft up`, the URL answers. Packs with more to prove: node's app is PID 1 and a clean stop
exits 0; php serves its app but never composer.json or vendor/."""

from __future__ import annotations

import urllib.error
import urllib.request
import warnings
from pathlib import Path

import docker
import docker.errors
import pytest
from kit import Draftd, missing, scaffold, wait_for_text

from draft import packs

pytestmark = pytest.mark.docker

PROVEN_ON_DOCKER = ["python", "node", "go", "rust", "java", "php", "erlang"]
"""The packs CI deploys end to end here (README's pack table, "tested end to end here")."""


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def needs_base_images(pack: str) -> None:
    """The pack's base images (or their stand-ins) on this engine, else missing(); a stand-in
    that is not its tag's version says so in the test report (a warning)."""
    engine = docker.from_env()
    try:
        for image in packs.find_pack(pack).images:
            try:
                found = engine.images.get(image)
            except docker.errors.ImageNotFound:
                missing(f"the {image} image or its local stand-in")
            really = (found.labels or {}).get("sh.draft.stand-in.version")
            if really:
                warnings.warn(f"{pack}: {image} is a local stand-in: {really}", stacklevel=2)
    finally:
        engine.close()


@pytest.mark.parametrize("pack", PROVEN_ON_DOCKER)
def test_the_example_serves_on_docker(
    pack: str, tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    needs_base_images(pack)
    app = scaffold(tmp_path / "app", f"e2e-{pack}", example=pack, target="docker")
    up = draftd.draft("up", str(app), "--no-watch", timeout=900)
    assert up.returncode == 0, up.stderr[-3000:]
    url = up.stdout.strip().splitlines()[-1]
    wait_for_text(url, "Hello World!", timeout=60)

    container = docker_engine.containers.get(f"draft-e2e-{pack}-development")
    if pack == "php":
        assert status_of(url + "/composer.json") in (403, 404)
        assert status_of(url + "/vendor/autoload.php") in (403, 404)
    if pack == "node":
        top = container.top(ps_args="-o pid,args")["Processes"]
        assert [args for pid, args in top if pid == str(container.attrs["State"]["Pid"])] == [
            "node server.js"
        ], top
        container.stop(timeout=10)
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0, "a clean SIGTERM is a clean exit"


def test_a_python_app_with_pyproject_toml_and_main_py_serves(
    tmp_path: Path, draftd: Draftd
) -> None:
    """The python pack detects pyproject.toml apps: it installs their [project] dependencies
    (no requirements.txt needed) and runs main.py when there is no app.py."""
    app = scaffold(tmp_path / "app", "e2e-pyproject", target="docker")
    (app / "requirements.txt").unlink()
    (app / "app.py").rename(app / "main.py")
    (app / "pyproject.toml").write_text(
        '[project]\nname = "hello"\nversion = "1.0"\ndependencies = ["flask>=3"]\n'
    )
    up = draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    wait_for_text(up.stdout.strip().splitlines()[-1], "Hello World!", timeout=60)
