"""A `POST /v1/builds` body (`draftd.wire.BuildRequest`), checked: what a build is asked to
do, before anything runs.

The body is untrusted JSON: every field is checked for its type and meaning
(the same checks draft.toml gets), the manifest and the chart for confinement,
and what passes becomes a frozen `BuildSpec` the rest of the daemon relies on.
The settings checked are exactly `draftd.wire.BuildSettings`' keys, each with its
draft.toml key's type and check (`draft.configschema.KEYS`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, cast

from draft.configschema import KEYS, MAX_RELEASE_NAME, Problem, dns_label_problem
from draft.errors import DraftError, quoted
from draftd.contexts import ContextFile, ManifestRefused, check_path, validate_manifest
from draftd.model import AppKey
from draftd.wire import MAX_HOLD, OPTIONAL_SETTINGS, TRIGGERS, BuildSettings, Trigger

_ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_SETTINGS: tuple[str, ...] = tuple(BuildSettings.__annotations__)
"""The settings a build request carries, in the order they are checked."""


class RequestRefused(DraftError):
    """A request body is malformed or asks for something impossible."""


@dataclass(frozen=True)
class BuildSpec:
    key: AppKey
    files: tuple[ContextFile, ...]
    settings: BuildSettings
    trigger: Trigger
    chart: tuple[ContextFile, ...] | None
    hold: float = 0.0
    """Seconds after the request before its deploy may start (`BuildRequest.holdSeconds`)."""


def parse_build_request(body: Any, *, max_blob: int) -> BuildSpec:
    """A checked `BuildSpec`, or `RequestRefused` / `ManifestRefused` saying what is wrong."""
    if not isinstance(body, dict):
        raise RequestRefused("A build request must be a JSON object.")
    key = app_key(body.get("app"), body.get("environment"))
    trigger = body.get("trigger", "command")
    if trigger not in TRIGGERS:
        raise RequestRefused(
            f"trigger must be one of {', '.join(TRIGGERS)}, not {quoted(trigger)}."
        )
    settings = _settings(body.get("settings"))
    if settings["name"] != key.app:
        raise RequestRefused(
            f"settings.name {quoted(settings['name'])} is not the app {key.app!r}: "
            "a build writes only its own app's image.",
            "Send the app's name in both fields, as draft.toml's name.",
        )
    files = validate_manifest(body.get("manifest"), max_size=max_blob)
    _check_dockerfile(files, settings["dockerfile"])
    chart = body.get("chart")
    charted = None if chart is None else validate_manifest(chart, max_size=max_blob, what="chart")
    return BuildSpec(key, files, settings, trigger, charted, _hold(body.get("holdSeconds", 0)))


def _hold(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= MAX_HOLD:
        raise RequestRefused(
            f"holdSeconds must be a number of seconds from 0 to {MAX_HOLD:g}, not {quoted(raw)}."
        )
    return float(raw)


def _settings(raw: Any) -> BuildSettings:
    if not isinstance(raw, dict):
        raise RequestRefused("settings must be a JSON object with the environment's keys.")
    settings: dict[str, Any] = {}
    for key in _SETTINGS:
        spec = KEYS[key]
        if key not in raw and key not in OPTIONAL_SETTINGS:
            raise RequestRefused(f"settings lack {key!r}.")
        value = raw.get(key, spec.default)  # older clients do not send the optional ones
        if (isinstance(value, bool) and bool not in spec.types) or not isinstance(
            value, spec.types
        ):
            raise RequestRefused(f"settings.{key} must be {_expected(key)}.")
        problem = spec.check(value) if spec.check else None
        if problem:
            text = problem.message if isinstance(problem, Problem) else problem
            raise RequestRefused(f"settings.{key}: {text}.")
        settings[key] = copy.copy(value)  # a list or table of its own, not the request's
    return cast(BuildSettings, settings)


def _expected(key: str) -> str:
    spec = KEYS[key]
    return "true or false" if key in OPTIONAL_SETTINGS and spec.types == (bool,) else spec.type_name


def app_key(app: Any, environment: Any) -> AppKey:
    """The key of a valid app name (a DNS-1123 label) and environment name; they name files."""
    problem = dns_label_problem(app, "app", MAX_RELEASE_NAME) if isinstance(app, str) else None
    if not isinstance(app, str) or problem:
        raise RequestRefused(f"{problem or 'app must be a string'}.")
    if not isinstance(environment, str) or not _ENVIRONMENT.fullmatch(environment):
        raise RequestRefused(
            f"environment {quoted(environment)} is not an environment name "
            "(letters, digits, '_', '.', '-'; at most 63)."
        )
    return AppKey(app, environment)


def _check_dockerfile(files: tuple[ContextFile, ...], dockerfile: str) -> None:
    check_path(dockerfile, "settings.dockerfile")
    if not any(f.path == dockerfile for f in files):
        raise ManifestRefused(
            f"The build context has no {quoted(dockerfile)} (settings.dockerfile).",
            "Send the Dockerfile with the context, even when .dockerignore lists it.",
        )
