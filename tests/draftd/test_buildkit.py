"""Builds through the engine's BuildKit, on the real Docker engine: the output a user reads,
a failing step named with why, cache mounts that outlive a build (what makes a
compiled app's rebuild fast), the classic builder on request; and progress messages that
are not BuildKit's refused without a crash."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import tarfile
import uuid

import docker
import docker.errors
import pytest

from draftd import buildkit
from draftd.builder import APP_LABEL, BuildFailed
from draftd.docker_builder import DockerBuilder
from draftd.model import Image


def context_of(files: dict[str, str]) -> io.BytesIO:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive.seek(0)
    return archive


def build(builder: DockerBuilder, image: Image, files: dict[str, str]) -> list[str]:
    lines: list[str] = []
    asyncio.run(
        builder.build(
            context_of(files), image, dockerfile="Dockerfile", build_args={"WHO": "draft"},
            labels={APP_LABEL: image.repository}, log=lines.append,
        )
    )  # fmt: skip
    return lines


@pytest.fixture
def image(docker_engine: docker.DockerClient) -> object:
    built = Image(f"buildkit-{os.getpid()}", "t")
    yield built
    with contextlib.suppress(docker.errors.DockerException):
        docker_engine.images.remove(built.reference, force=True)


@pytest.mark.docker
def test_steps_and_their_output_read_as_docker_build_plain_progress(
    image: Image, python_base_image: str
) -> None:
    stamp = uuid.uuid4().hex  # a new file: the RUN after it runs again, whatever is cached
    lines = build(
        DockerBuilder(),
        image,
        {
            "Dockerfile": f"FROM {python_base_image}\nARG WHO\nCOPY stamp /stamp\n"
            'RUN echo "built by $WHO from $(cat /stamp)"\n',
            "stamp": stamp,
        },
    )
    numbered = {line.split(" ", 1)[1] for line in lines if line.startswith("#")}
    assert "[2/3] COPY stamp /stamp" in numbered, lines
    assert '[3/3] RUN echo "built by draft from $(cat /stamp)"' in numbered, lines
    assert f"built by draft from {stamp}" in numbered, lines


@pytest.mark.docker
def test_a_failing_step_is_named_with_the_engines_reason(
    image: Image, python_base_image: str
) -> None:
    with pytest.raises(BuildFailed) as failed:
        build(
            DockerBuilder(),
            image,
            {"Dockerfile": f"FROM {python_base_image}\nRUN echo the tests broke && exit 3\n"},
        )
    assert str(failed.value).startswith("[2/2] RUN echo the tests broke && exit 3 failed: ")
    assert "exit code: 3" in str(failed.value)


@pytest.mark.docker
def test_a_cache_mount_outlives_the_build_that_filled_it(
    image: Image, python_base_image: str
) -> None:
    """What a Go, Rust or Maven build keeps between saves: the second build, of other
    files, finds what the first one left in its cache."""
    cache = f"draft-test-cache-{os.getpid()}"
    dockerfile = (
        f"FROM {python_base_image}\nCOPY stamp /stamp\n"
        f"RUN --mount=type=cache,id={cache},target=/cache "
        "cat /cache/seen 2>/dev/null || echo nothing cached; cp /stamp /cache/seen\n"
    )
    builder = DockerBuilder()
    first = build(builder, image, {"Dockerfile": dockerfile, "stamp": "first build\n"})
    second = build(builder, image, {"Dockerfile": dockerfile, "stamp": "second build\n"})
    assert any(line.endswith(" nothing cached") for line in first), first
    assert any(line.endswith(" first build") for line in second), second


@pytest.mark.docker
def test_draftd_buildkit_0_builds_with_the_classic_builder(
    image: Image, python_base_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAFTD_BUILDKIT", "0")
    lines = build(DockerBuilder(), image, {"Dockerfile": f"FROM {python_base_image}\n"})
    assert lines[0] == f"Step 1/1 : FROM {python_base_image}", lines


@pytest.mark.parametrize(
    "aux",
    [
        "not base64 at all!",
        base64.b64encode(b"\x0a\xff\xff\xff").decode(),  # a field longer than the message
        base64.b64encode(b"\x0f").decode(),  # wire type 7
        base64.b64encode(b"\x08" + b"\xff" * 11).decode(),  # a varint that never ends
    ],
)
def test_progress_that_is_not_buildkits_is_refused_not_crashed_on(aux: str) -> None:
    with pytest.raises(buildkit.TraceError):
        buildkit.decode(aux)
