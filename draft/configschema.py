"""The keys of a draft.toml environment: types, defaults, docs and value checks.

One table, `KEYS`, that the checks, the language server's completion and hover,
and `draft create` all read, so they cannot disagree about what a key means.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TARGETS = ("auto", "kubernetes", "docker")
MAX_RELEASE_NAME = 53
MAX_LABEL = 63

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PORT_MAPPING = re.compile(r"^(\d{1,5})(?::(\d{1,5}))?$")


@dataclass(frozen=True)
class Problem:
    """What is wrong with a value of the right type, and where inside it."""

    message: str
    inside: tuple[str, ...] = ()
    """The element or key within the value, e.g. ("2",) for an array's third entry."""


Check = Callable[[Any], "Problem | str | None"]
"""Returns what is wrong with a value of the right type, or None when it is fine."""


@dataclass(frozen=True)
class KeySpec:
    """One key of an environment table: its type, default and what it is for."""

    name: str
    types: tuple[type, ...]
    type_name: str
    default: Any
    doc: str
    check: Check | None = None
    code: str = "invalid-value"
    hyphenated: str | None = None
    """The later Draft releases' spelling, accepted with a hint."""
    values: tuple[str, ...] = ()
    """The allowed values, when they are a fixed set."""

    @property
    def summary(self) -> str:
        """The doc's first clause, short enough for a comment after the value."""
        return re.split(r":\s|;\s|\s\(|\.\s|,\se\.g\.", self.doc)[0].rstrip(".")


def dns_label_problem(value: str, what: str, limit: int) -> str | None:
    if not value:
        return f"{what} must not be empty"
    if len(value) > limit:
        return f"{what} {value!r} is {len(value)} characters long; the limit is {limit}"
    if not _DNS_LABEL.match(value):
        return (
            f"{what} {value!r} is not a valid DNS-1123 label: use lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )
    return None


def sanitize_name(value: str, limit: int = MAX_RELEASE_NAME) -> str:
    """The nearest valid name: what a quick fix offers and `draft create` uses."""
    name = re.sub(r"[^a-z0-9-]+", "-", value.lower())
    name = re.sub(r"-{2,}", "-", name)[:limit].strip("-")
    return name or "app"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else f"watch_delay must be 0 or more seconds, not {value}"


def _each(check: Callable[[str], str | None]) -> Check:
    def check_all(values: list[Any]) -> Problem | None:
        for number, value in enumerate(values):
            if not isinstance(value, str):
                return Problem(
                    f"every entry must be a string, not {type_name(value)}", (str(number),)
                )
            problem = check(value)
            if problem:
                return Problem(problem, (str(number),))
        return None

    return check_all


def _set_entry(value: str) -> str | None:
    if "=" not in value or value.startswith("="):
        return f"{value!r} is not a Helm value: write it as key=value, e.g. image.pullPolicy=Always"
    return None


def _tag(value: str) -> str | None:
    if _IMAGE_TAG.match(value):
        return None
    return f"{value!r} is not a valid image tag (letters, digits, '_', '.', '-'; at most 128)"


def _port_mapping(value: str) -> str | None:
    match = _PORT_MAPPING.match(value)
    if match and all(0 < int(p) < 65536 for p in match.groups() if p):
        return None
    return f"{value!r} is not a port mapping: write it as local:remote, e.g. 8080:8080"


def _build_args(value: dict[str, Any]) -> Problem | None:
    for key, arg in value.items():
        if not isinstance(arg, str):
            return Problem(f"build arg {key} must be a string, not {type_name(arg)}", (key,))
    return None


def registry_problem(value: str) -> str | None:
    if "://" in value:
        return f"registry is an image repository prefix, not a URL: drop {value.split('://')[0]}://"
    if value != value.strip() or " " in value:
        return "registry must not contain spaces"
    return None


def target_problem(value: str) -> str | None:
    if value in TARGETS:
        return None
    return f"target must be one of {', '.join(TARGETS)}, not {value!r}"


KEYS: dict[str, KeySpec] = {
    spec.name: spec
    for spec in (
        KeySpec(
            "name",
            (str,),
            "a string",
            None,
            "App and Helm release name: a DNS-1123 label of at most 53 characters.",
            lambda v: dns_label_problem(v, "name", MAX_RELEASE_NAME),
            "invalid-name",
        ),
        KeySpec(
            "namespace",
            (str,),
            "a string",
            "default",
            "Kubernetes namespace the app is deployed to; created when missing.",
            lambda v: dns_label_problem(v, "namespace", MAX_LABEL),
            "invalid-name",
        ),
        KeySpec(
            "watch",
            (bool,),
            "a boolean",
            True,
            "Redeploy when files change (`draft up`); editors deploy on save.",
        ),
        KeySpec(
            "watch_delay",
            (int, float),
            "a number of seconds",
            0.2,
            "Seconds of quiet after the last change before a redeploy (debounce): a burst of "
            "saves closer together than this (Save All, a formatter, a git checkout) is one "
            "redeploy. Raise it when a tool of yours pauses longer between the files it writes.",
            _non_negative,
            "out-of-range",
            hyphenated="watch-delay",
        ),
        KeySpec(
            "wait",
            (bool,),
            "a boolean",
            True,
            "Wait for the rollout to be ready, and report why when it is not.",
        ),
        KeySpec(
            "sync",
            (bool,),
            "a boolean",
            True,
            "Sync saved files into the running app instead of rebuilding: when a save changes "
            "only files the Dockerfile copies after its last RUN, they are copied into the app's "
            "container and the app restarted there (docker target); false: every save builds "
            "the image.",
        ),
        KeySpec(
            "registry",
            (str,),
            "a string",
            "",
            'Image repository prefix, e.g. "127.0.0.1:5000" or "ghcr.io/me"; empty: no push.',
            registry_problem,
            "invalid-registry",
        ),
        KeySpec(
            "dockerfile",
            (str,),
            "a string",
            "Dockerfile",
            "Path of the Dockerfile, relative to the app.",
        ),
        KeySpec(
            "chart",
            (str,),
            "a string",
            "chart",
            "Path of the Helm chart folder, relative to the app.",
        ),
        KeySpec(
            "set",
            (list,),
            "an array of strings",
            [],
            'Extra Helm values as helm --set takes them, e.g. ["replicaCount=2"].',
            _each(_set_entry),
            "invalid-set",
        ),
        KeySpec(
            "custom_tags",
            (list,),
            "an array of strings",
            [],
            "Image tags added to the content tag.",
            _each(_tag),
            "invalid-tag",
            hyphenated="custom-tags",
        ),
        KeySpec(
            "image_build_args",
            (dict,),
            "a table of strings",
            {},
            'Docker build args, e.g. { PYTHON_VERSION = "3.12" }.',
            _build_args,
            "wrong-type",
        ),
        KeySpec(
            "override_ports",
            (list,),
            "an array of strings",
            [],
            'Ports `draft connect` forwards, as "local:remote".',
            _each(_port_mapping),
            "invalid-port",
            hyphenated="override-ports",
        ),
        KeySpec(
            "auto_connect",
            (bool,),
            "a boolean",
            False,
            "Connect (`draft connect`) after a successful up.",
            hyphenated="auto-connect",
        ),
        KeySpec(
            "target",
            (str,),
            "a string",
            "auto",
            'Where to deploy: "kubernetes", "docker", or "auto" '
            "(kubernetes when a kube context answers, else the local Docker engine).",
            target_problem,
            "invalid-value",
            values=TARGETS,
        ),
    )
}

HYPHENATED = {spec.hyphenated: spec.name for spec in KEYS.values() if spec.hyphenated}


def type_name(value: Any) -> str:
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return kinds.get(type(value), "a date or time")
