"""scripts/build-base-images.sh reports every image it was asked for — built, present, or one
it cannot make — without stopping at the first, and leaves no temp folder behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import docker
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
