"""User-level defaults (`draft config`): what applies when draft.toml does not say.

Kept in `<DRAFT_HOME>/config.toml` with tomlkit, so comments a user adds survive `draft config
set`. draft.toml wins over these: `registry` applies when draft.toml's is empty, `target` when
draft.toml's is "auto"; `daemon_url` is where `draft` finds draftd (after DRAFT_DAEMON_URL).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import tomlkit

from draft.configschema import registry_problem, target_problem
from draft.errors import ConfigError
from draft.home import home

CONFIG_FILE = "config.toml"


def _url(value: str) -> str | None:
    return (
        None if value.startswith(("http://", "https://")) else "daemon_url must be an http(s) URL"
    )


KEYS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "registry": ("image repository prefix used when draft.toml's is empty", registry_problem),
    "target": ("where to deploy when draft.toml says auto", target_problem),
    "daemon_url": ("the draftd to use, e.g. http://127.0.0.1:7878", _url),
}


def path() -> Path:
    return home() / CONFIG_FILE


def _document() -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, tomlkit.exceptions.ParseError) as error:
        raise ConfigError(
            f"{path()} cannot be read: {error}.", "Fix or remove the file."
        ) from error


def values() -> dict[str, str]:
    """The user's defaults (never raises: a broken file means no defaults)."""
    try:
        data = tomllib.loads(path().read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {k: str(v) for k, v in data.items() if k in KEYS}


def get(key: str) -> str | None:
    _known(key)
    return values().get(key)


def set_value(key: str, value: str) -> None:
    _known(key)
    problem = KEYS[key][1](value)
    if problem:
        raise ConfigError(f"{value!r} is not a valid {key}: {problem}.")
    document = _document()
    document[key] = value
    _write(document)


def unset(key: str) -> bool:
    _known(key)
    document = _document()
    if key not in document:
        return False
    del document[key]
    _write(document)
    return True


def _write(document: tomlkit.TOMLDocument) -> None:
    path().parent.mkdir(parents=True, exist_ok=True)
    path().write_text(tomlkit.dumps(document), encoding="utf-8")


def _known(key: str) -> None:
    if key not in KEYS:
        raise ConfigError(f"Draft has no setting {key!r}.", f"Settings: {', '.join(KEYS)}.")
