"""The local Docker engine, as the builder and the docker target reach it.

Both connect to the engine DOCKER_HOST names (or the default socket) and find out within a
couple of seconds, not the SDK's minute-long default, that it does not answer: then it is
`TargetUnavailable` saying how to start it.
"""

from __future__ import annotations

import docker
import docker.errors
import docker.utils
from docker.models.containers import Container

from draftd.targets.base import TargetUnavailable

CONNECT_TIMEOUT = 3

ENGINE_DOWN_HINT = (
    "Start it (`sudo systemctl start docker`, or `bash scripts/setup-docker.sh` on this "
    "project's machines) and try again."
)


def engine_unavailable(error: Exception | None = None) -> TargetUnavailable:
    detail = f" ({error})" if error is not None else ""
    return TargetUnavailable(f"The Docker engine is not running{detail}.", ENGINE_DOWN_HINT)


def connect_api(timeout: int) -> docker.APIClient:
    """A low-level client of the engine, checked; its calls then wait up to `timeout` s."""
    try:
        client = docker.APIClient(timeout=CONNECT_TIMEOUT, **docker.utils.kwargs_from_env())
        client.ping()
    except (docker.errors.DockerException, OSError) as error:
        raise engine_unavailable() from error
    client.timeout = timeout
    return client


def connect(timeout: int) -> docker.DockerClient:
    """A client of the engine, checked; its calls then wait up to `timeout` s."""
    try:
        client = docker.DockerClient(timeout=CONNECT_TIMEOUT, **docker.utils.kwargs_from_env())
        client.ping()
    except (docker.errors.DockerException, OSError) as error:
        raise engine_unavailable() from error
    client.api.timeout = timeout
    return client


def has_file(container: Container, path: str) -> bool:
    """Whether `path` exists in a container (created or running); /bin/sh is a small link."""
    try:
        stream, _ = container.get_archive(path)
        for _chunk in stream:
            pass
    except docker.errors.NotFound:
        return False
    return True


def image_has_file(client: docker.DockerClient, image: str, path: str) -> bool:
    """Whether `path` exists in `image` (looked for in a container created, never started)."""
    container = client.containers.create(image, entrypoint=["/bin/sh"], labels={})
    try:
        return has_file(container, path)
    finally:
        container.remove(force=True)
