"""Fixtures that say what real thing a test needs: the Docker engine, the loopback registry,
the python base image. `scripts/setup.sh` starts all three (CI runs it first).

When one is missing a test is skipped on a developer's machine, and FAILS when CI=true: CI
must never pass by skipping what it was meant to prove.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from kit import Draftd, free_port, missing, removing_new_containers

REGISTRY = os.environ.get("DRAFT_REGISTRY", "127.0.0.1:5000")
PYTHON_IMAGE = "python:3.12-slim"


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except (docker.errors.DockerException, OSError):
        missing("a running Docker engine")
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry() -> str:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=3):
            pass
    except OSError:
        missing(f"the loopback registry at {REGISTRY}")
    return REGISTRY


@pytest.fixture(scope="session")
def python_base_image(docker_engine: docker.DockerClient) -> str:
    try:
        docker_engine.images.get(PYTHON_IMAGE)
    except docker.errors.ImageNotFound:
        missing(f"the {PYTHON_IMAGE} image or its local stand-in")
    return PYTHON_IMAGE


@pytest.fixture
def draftd(
    tmp_path: Path, docker_engine: docker.DockerClient, python_base_image: str
) -> Iterator[Draftd]:
    """A real draftd, started on its own port and state folder; the containers it deployed
    during the test are removed afterwards."""
    daemon = Draftd(tmp_path / "state", free_port())
    daemon.start()
    try:
        with removing_new_containers(docker_engine):
            yield daemon
    finally:
        daemon.stop()
