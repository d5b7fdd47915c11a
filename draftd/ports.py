"""The port an app listens on inside its container, found where the user declared it.

Targets publish and probe this port. The chart's `containerPort` (or a
`--set containerPort=…`) wins because Helm deploys with it; without a chart the
Dockerfile's last `EXPOSE` says it; packs default to 8080.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from draftd.blobs import BlobStore
from draftd.buildspec import BuildSpec
from draftd.contexts import read_file

DEFAULT_PORT = 8080
MAX_READ = 1024 * 1024
_CONTINUATION = re.compile(r"\\[ \t]*\r?\n")
_EXPOSED = re.compile(r"^(\d{1,5})(?:/tcp)?$", re.IGNORECASE)


def container_port(spec: BuildSpec, chart_dir: Path | None, blobs: BlobStore) -> int:
    """Blocking (it reads files): run it in a thread."""
    found = _from_set(spec.settings["set"])
    if found is None and chart_dir is not None:
        found = _from_values(chart_dir / "values.yaml")
    if found is None:
        dockerfile = read_file(spec.files, spec.settings["dockerfile"], blobs, MAX_READ)
        found = exposed_port(dockerfile.decode("utf-8", "replace")) if dockerfile else None
    return found or DEFAULT_PORT


def exposed_port(dockerfile: str) -> int | None:
    """The first TCP port of the Dockerfile's last EXPOSE with a literal port."""
    port = None
    for line in _CONTINUATION.sub(" ", dockerfile).splitlines():
        words = line.split()
        if len(words) < 2 or words[0].upper() != "EXPOSE":
            continue
        for word in words[1:]:
            candidate = _port(word)
            if candidate is not None:
                port = candidate
                break
    return port


def _from_set(entries: Iterable[str]) -> int | None:
    port = None
    for entry in entries:
        key, _, value = entry.partition("=")
        if key.strip() == "containerPort":
            port = _port(value.strip()) or port
    return port


def _from_values(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_READ)
        values: Any = YAML(typ="safe", pure=True).load(text)
    except (OSError, YAMLError, ValueError):
        return None
    if isinstance(values, dict):
        port = values.get("containerPort")
        if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
            return port
    return None


def _port(word: str) -> int | None:
    match = _EXPOSED.match(word)
    if match and 0 < int(match.group(1)) < 65536:
        return int(match.group(1))
    return None
