"""The local Docker engine, as the builder and the docker target reach it.

Both connect to the engine DOCKER_HOST names (or the default socket) and find out within a
couple of seconds, not the SDK's minute-long default, that it does not answer: then it is
`TargetUnavailable` saying how to start it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

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


class NoBuildKit(Exception):
    """The engine answered that it has no BuildKit (nothing was built)."""


class BuildRefused(Exception):
    """The engine refused the build request itself (its words are the message)."""


def buildkit_messages(
    api: docker.APIClient,
    context: BinaryIO,
    *,
    tag: str,
    timeout: int,
    dockerfile: str = "Dockerfile",
    buildargs: Mapping[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The engine's JSON messages of a BuildKit build: `version=2`, the context as the
    request's body (no session serving files: the SDK has no BuildKit of its own). BuildKit
    runs no container per step, keeps cache mounts (`RUN --mount=type=cache`) and runs
    stages in parallel. `NoBuildKit` or `BuildRefused` before anything ran; a line that is
    not JSON comes as a `stream` message saying so."""
    params = {
        "t": tag,
        "dockerfile": dockerfile,
        "buildargs": json.dumps(dict(buildargs or {})),
        "version": "2",
        "session": uuid.uuid4().hex,  # the engine wants one; nothing is served through it
        "rm": "1",
    }
    response = api.post(
        f"{api.base_url}/v{api.api_version}/build",
        params=params,
        data=context,
        headers={"Content-Type": "application/x-tar"},
        stream=True,
        timeout=timeout,
    )
    with response:
        if response.status_code >= 400:
            explanation = str(response.text).strip()
            if response.status_code == 400 and "buildkit" in explanation.lower():
                raise NoBuildKit(explanation)
            raise BuildRefused(explanation)
        for raw in response.iter_lines():
            if not raw.strip():
                continue
            try:
                message = json.loads(raw)
            except ValueError:
                message = {"stream": f"(unreadable build output: {raw[:200]!r})\n"}
            if isinstance(message, dict):
                yield message


def build_error(message: dict[str, Any]) -> str | None:
    """What a build message says went wrong (BuildKit's and the classic builder's alike), or
    None when it is no error."""
    if "error" not in message and "errorDetail" not in message:
        return None
    detail = message.get("errorDetail") or {}
    return str(detail.get("message") or message.get("error") or "")
