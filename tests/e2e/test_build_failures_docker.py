"""A build that fails because the network cannot reach a registry says which registry and
what to do (never "fix the app"), and a build's log carries no terminal colour escapes:
`draft up` on the real engine with a real draftd."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from kit import Draftd, scaffold

pytestmark = pytest.mark.docker

UNREACHABLE = "pkgs.draft-test.invalid"
"""A host that cannot exist (`.invalid` is reserved): every lookup of it fails."""


def failed_up(draftd: Draftd, app: Path) -> list[dict[str, Any]]:
    result = draftd.draft("up", str(app), "--no-watch", "-o", "json", timeout=300)
    assert result.returncode != 0, result.stdout[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"')]


def failure(events: list[dict[str, Any]]) -> str:
    return json.dumps(events[-1])


def test_an_unreachable_base_image_registry_is_named_with_what_to_do(
    tmp_path: Path, draftd: Draftd
) -> None:
    app = scaffold(tmp_path / "app", "nobase")
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("FROM python:3.12-slim", f"FROM {UNREACHABLE}/py:1")
    )
    said = failure(failed_up(draftd, app))
    assert f"the base image {UNREACHABLE}/py:1 is not on this Docker engine" in said, said
    assert f"its registry ({UNREACHABLE}) cannot be reached" in said, said
    assert "docker load" in said and "Fix the Dockerfile or the app" not in said, said


def test_an_unreachable_package_registry_is_named_and_the_log_has_no_escapes(
    tmp_path: Path, draftd: Draftd
) -> None:
    app = scaffold(tmp_path / "app", "nopkgs")
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.12-slim\n"
        f"RUN printf '\\033[31mcoloured\\033[0m output {uuid.uuid4().hex}\\n' >&2\n"
        f"RUN pip install --retries 1 --timeout 3 --index-url https://{UNREACHABLE}/simple flask\n"
        "COPY . .\n"
    )
    events = failed_up(draftd, app)
    said = failure(events)
    assert f"a package registry ({UNREACHABLE}) could not be reached" in said, said
    assert "not the app" in said and "Fix the Dockerfile or the app" not in said, said
    log = "\n".join(e.get("message", "") + e.get("line", "") for e in events)
    assert "coloured output" in log, log
    assert "\x1b" not in log and "\x1b" not in said
