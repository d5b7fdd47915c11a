"""A `POST /v1/builds` body, checked: what a build is asked to do, before anything runs.

The body is untrusted JSON: every field is checked for its type and meaning
(the same checks draft.toml gets), the manifest and the chart for confinement,
and what passes becomes a frozen `BuildSpec` the rest of the daemon relies on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args

from draft.configschema import KEYS, MAX_RELEASE_NAME, Problem, dns_label_problem
from draft.errors import DraftError, quoted
from draftd.contexts import ContextFile, ManifestRefused, check_path, validate_manifest
from draftd.model import AppKey, BuildSettings, Trigger

_ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_TRIGGERS: tuple[str, ...] = get_args(Trigger)
_SETTINGS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "namespace": (str,),
    "dockerfile": (str,),
    "chart": (str,),
    "registry": (str,),
    "set": (list,),
    "custom_tags": (list,),
    "image_build_args": (dict,),
    "target": (str,),
    "wait": (bool,),
}
_OPTIONAL_SETTINGS: dict[str, bool] = {"sync": True}
"""Settings newer clients send; older ones get the default."""


class RequestRefused(DraftError):
    """A request body is malformed or asks for something impossible."""


@dataclass(frozen=True)
class BuildSpec:
    key: AppKey
    files: tuple[ContextFile, ...]
    settings: BuildSettings
    trigger: str
    chart: tuple[ContextFile, ...] | None


def parse_build_request(body: Any, *, max_blob: int) -> BuildSpec:
    """A checked `BuildSpec`, or `RequestRefused` / `ManifestRefused` saying what is wrong."""
    if not isinstance(body, dict):
        raise RequestRefused("A build request must be a JSON object.")
    key = app_key(body.get("app"), body.get("environment"))
    trigger = body.get("trigger", "command")
    if trigger not in _TRIGGERS:
        raise RequestRefused(
            f"trigger must be one of {', '.join(_TRIGGERS)}, not {quoted(trigger)}."
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
    return BuildSpec(key, files, settings, str(trigger), charted)


def _settings(raw: Any) -> BuildSettings:
    if not isinstance(raw, dict):
        raise RequestRefused("settings must be a JSON object with the environment's keys.")
    for key, types in _SETTINGS.items():
        if key not in raw:
            raise RequestRefused(f"settings lack {key!r}.")
        value = raw[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise RequestRefused(f"settings.{key} must be {KEYS[key].type_name}.")
        spec = KEYS[key]
        problem = spec.check(value) if spec.check else None
        if problem:
            text = problem.message if isinstance(problem, Problem) else problem
            raise RequestRefused(f"settings.{key}: {text}.")
    settings: BuildSettings = {
        "name": raw["name"],
        "namespace": raw["namespace"],
        "dockerfile": raw["dockerfile"],
        "chart": raw["chart"],
        "registry": raw["registry"],
        "set": list(raw["set"]),
        "custom_tags": list(raw["custom_tags"]),
        "image_build_args": dict(raw["image_build_args"]),
        "target": raw["target"],
        "wait": raw["wait"],
        "sync": _optional_flag(raw, "sync"),
    }
    return settings


def _optional_flag(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, _OPTIONAL_SETTINGS[key])
    if not isinstance(value, bool):
        raise RequestRefused(f"settings.{key} must be true or false.")
    return value


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
