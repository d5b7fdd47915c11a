"""scripts/build-base-images.sh reports every image it was asked for — built, present, or one
it cannot make — without stopping at the first, and leaves no temp folder behind."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import docker
import docker.errors
import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.docker


def test_unknown_images_are_reported_and_the_rest_still_handled(
    tmp_path: Path, docker_engine: docker.DockerClient, python_base_image: str
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-base-images.sh"),
         "swift:5.10-jammy", python_base_image, "mcr.microsoft.com/dotnet/sdk:8.0"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": str(temp)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = result.stdout
    unknown = said.split("no Debian stand-in is known")[1]
    assert "swift:5.10-jammy" in unknown and "mcr.microsoft.com/dotnet/sdk:8.0" in unknown
    assert python_base_image in said.split("already present:")[1].split("stand-ins:")[0]
    assert list(temp.iterdir()) == [], "the script's temp folder is removed"


def test_the_java_runtime_stand_in_runs_its_tags_java_and_says_what_it_is(
    tmp_path: Path, docker_engine: docker.DockerClient
) -> None:
    """eclipse-temurin:21-jre's stand-in (built here under a name of the test's own) is a Java
    runtime of at least 21 — the java pack's classes are compiled for 21 — with no compiler in
    it, and its label names what it really is."""
    image = f"draft-test-stand-ins.invalid/eclipse-temurin:21-jre-{tmp_path.name[-12:].lower()}"
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-base-images.sh"), image],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )  # fmt: skip
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        version = docker_engine.containers.run(
            image, ["java", "-XshowSettings:properties", "-version"], remove=True, stderr=True
        ).decode()
        major = int(version.split("java.specification.version = ")[1].split()[0])
        assert major >= 21, version
        no_javac = docker_engine.containers.run(
            image, ["sh", "-c", "command -v javac || echo none"], remove=True
        ).decode()
        assert no_javac.strip() == "none"
        label = docker_engine.images.get(image).labels["sh.draft.stand-in.version"]
        assert label in result.stdout and "JRE" in label
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_engine.images.remove(image)
