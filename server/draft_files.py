"""Which Draft file a document is, and which app it belongs to."""

from __future__ import annotations

import enum
from pathlib import Path

from pygls.uris import to_fs_path

from draft import config


class Kind(enum.Enum):
    DRAFT_TOML = "draft.toml"
    TASKS = ".draft-tasks.toml"
    VALUES = "values.yaml"
    VALUES_SCHEMA = "values.schema.json"
    CHART_YAML = "Chart.yaml"
    TEMPLATE = "template"
    DOCKERFILE = "Dockerfile"
    OTHER = "other"


def path_of(uri: str) -> Path | None:
    path = to_fs_path(uri)
    return Path(path) if path else None


def kind_of(path: Path) -> Kind:
    if path.name == config.CONFIG_FILE:
        return Kind.DRAFT_TOML
    if path.name == Kind.TASKS.value:
        return Kind.TASKS
    if path.name == Kind.DOCKERFILE.value:
        return Kind.DOCKERFILE
    if (path.parent / "Chart.yaml").is_file() or path.name == "Chart.yaml":
        for kind in (Kind.VALUES, Kind.VALUES_SCHEMA, Kind.CHART_YAML):
            if path.name == kind.value:
                return kind
    if path.parent.name == "templates" and (path.parent.parent / "Chart.yaml").is_file():
        return Kind.TEMPLATE
    return Kind.OTHER


def chart_dir_of(path: Path, kind: Kind) -> Path | None:
    if kind in (Kind.VALUES, Kind.VALUES_SCHEMA, Kind.CHART_YAML):
        return path.parent
    if kind is Kind.TEMPLATE:
        return path.parent.parent
    return None


def app_root_of(path: Path, stop: Path | None = None) -> Path | None:
    """The nearest folder at or above `path` holding draft.toml (not above `stop`)."""
    for folder in [path, *path.parents] if path.is_dir() else path.parents:
        if (folder / config.CONFIG_FILE).is_file():
            return folder
        if stop is not None and folder == stop:
            return None
    return None
