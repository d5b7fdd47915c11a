"""draft.toml: the schema, its checks with exact positions, and loading.

The file holds one table per environment (`[environments.development]`); the
one named by `--env` is used. The keys themselves are described in
`draft.configschema`.
tomllib decides what the text means; `draft.tomlpos` says where things are.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from draft import limits, tomlpos
from draft.configschema import (
    HYPHENATED,
    KEYS,
    MAX_LABEL,
    MAX_RELEASE_NAME,
    KeySpec,
    Problem,
    sanitize_name,
    type_name,
)
from draft.diagnostics import Diagnostic, Fix, Position, Range, Severity, has_errors
from draft.errors import ConfigError

CONFIG_FILE = "draft.toml"
DEFAULT_ENVIRONMENT = "development"
ENVIRONMENT_VAR = "DRAFT_ENV"
_TOML_POSITION = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")


QUIET_SPENT_BUILDING = 1.0
"""The longest `watch_delay` spent building: a save starts its build at once, and draftd
deploys it once the quiet period has passed (a save in it supersedes that build). A longer
one is chosen to build less: nothing starts until the folder has been quiet that long."""


@dataclass(frozen=True)
class Environment:
    """One environment of draft.toml, defaults filled in."""

    environment: str
    name: str
    namespace: str = "default"
    watch: bool = True
    watch_delay: float = 0.2
    wait: bool = True
    sync: bool = True
    registry: str = ""
    dockerfile: str = "Dockerfile"
    chart: str = "chart"
    set: tuple[str, ...] = ()
    custom_tags: tuple[str, ...] = ()
    image_build_args: Mapping[str, str] | None = None
    override_ports: tuple[str, ...] = ()
    auto_connect: bool = False
    target: str = "auto"


@dataclass(frozen=True)
class Config:
    path: Path
    environments: Mapping[str, Environment]
    diagnostics: tuple[Diagnostic, ...]

    def environment(self, name: str) -> Environment:
        if name in self.environments:
            return self.environments[name]
        known = ", ".join(sorted(self.environments)) or "none"
        raise ConfigError(
            f"{self.path} has no environment {name!r} (it defines: {known}).",
            f"Add [environments.{name}] or pass --env with one of those.",
        )


class _Checker:
    """Walks tomllib's data and reports problems at tree-sitter's positions."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.where = tomlpos.index(text)
        self.found: list[Diagnostic] = []

    def report(
        self,
        at: Range | None,
        code: str,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        fix: Fix | None = None,
    ) -> None:
        self.found.append(Diagnostic(self.path, at or _START, severity, code, message, fix))

    def key(self, path: tomlpos.KeyPath) -> Range | None:
        return self.where.key_range(path)

    def value(self, path: tomlpos.KeyPath) -> Range | None:
        return self.where.value_range(path)

    def document(self, data: dict[str, Any]) -> dict[str, Environment]:
        for key in data:
            limits.step()
            if key != "environments":
                self.unknown((key,), ["environments"], "at the top level")
        environments = data.get("environments")
        if environments is None and not self.found:
            self.report(
                _START,
                "no-environments",
                "draft.toml defines no environment: add [environments.development]",
            )
            return {}
        if environments is None:
            return {}
        if not isinstance(environments, dict):
            self.report(
                self.value(("environments",)),
                "wrong-type",
                f"environments must be a table, not {type_name(environments)}",
            )
            return {}
        result: dict[str, Environment] = {}
        for name, table in environments.items():
            env = self.environment(name, table)
            if env is not None:
                result[name] = env
        return result

    def environment(self, env: str, table: Any) -> Environment | None:
        base = ("environments", env)
        if not isinstance(table, dict):
            self.report(
                self.value(base),
                "wrong-type",
                f"environment {env!r} must be a table, not {type_name(table)}",
            )
            return None
        values: dict[str, Any] = {}
        for key, value in table.items():
            limits.step()
            canonical = self.canonical_key(base, key, table)
            if canonical is not None and self.typed((*base, key), KEYS[canonical], value):
                values[canonical] = value
        if "name" not in table:
            self.missing_name(base)
        if "name" not in values:
            return None
        return _environment(env, values)

    def canonical_key(self, base: tomlpos.KeyPath, key: str, table: dict[str, Any]) -> str | None:
        if key in KEYS:
            return key
        if key in HYPHENATED:
            underscore = HYPHENATED[key]
            at = self.key((*base, key))
            if underscore in table:
                self.report(
                    at, "duplicate-key", f"{key} and {underscore} are the same key: keep one"
                )
                return None
            self.report(
                at,
                "hyphenated-key",
                f"{key} is the older spelling of {underscore}",
                severity=Severity.HINT,
                fix=_replace(at, underscore, f"Rename to {underscore}"),
            )
            return underscore
        self.unknown((*base, key), [*KEYS, *HYPHENATED], f"in environment {base[-1]!r}")
        return None

    def unknown(self, path: tomlpos.KeyPath, known: list[str], where: str) -> None:
        key = path[-1]
        at = self.key(path)
        limits.step(len(key) // 16 + 1)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close and path not in self.where.entries:
            self.report(
                at, "unknown-key", f"unknown key {key!r} {where}: did you mean {close[0]!r}?"
            )
        elif close:
            suggestion = HYPHENATED.get(close[0], close[0])
            self.report(
                at,
                "unknown-key",
                f"unknown key {key!r} {where}: did you mean {suggestion!r}?",
                fix=_replace(at, suggestion, f"Change to {suggestion}"),
            )
        else:
            self.report(
                at,
                "unknown-key",
                f"unknown key {key!r} {where}; known keys: {', '.join(known[: len(KEYS)])}",
            )

    def typed(self, path: tomlpos.KeyPath, spec: KeySpec, value: Any) -> bool:
        at = self.value(path)
        wrong_bool = isinstance(value, bool) and bool not in spec.types
        if wrong_bool or not isinstance(value, spec.types):
            self.report(
                at,
                "wrong-type",
                f"{spec.name} must be {spec.type_name}, not {type_name(value)}",
                fix=_bool_fix(at, spec, value),
            )
            return False
        problem = spec.check(value) if spec.check else None
        if isinstance(problem, Problem):
            self.report(self.value(path + problem.inside) or at, spec.code, problem.message)
            return False
        if problem:
            fix = None
            if spec.code == "invalid-name" and sanitize_name(str(value)) != value:
                limit = MAX_RELEASE_NAME if spec.name == "name" else MAX_LABEL
                valid = sanitize_name(str(value), limit)
                fix = _replace(at, f'"{valid}"', f"Change to {valid!r}")
            self.report(at, spec.code, problem, fix=fix)
            return False
        return True

    def missing_name(self, base: tomlpos.KeyPath) -> None:
        header = self.key(base)
        suggestion = sanitize_name(self.path.resolve().parent.name)
        fix = None
        # Only a `[environments.x]` header of its own gets the fix: a table implied by a
        # dotted header (`[environments.x.y]`) or key has no header line to add it under.
        entry = self.where.entries.get(base)
        if header is not None and entry is not None and entry.value is None:
            after = Position(header.start.line + 1, 0)
            fix = Fix(f'Add name = "{suggestion}"', Range(after, after), f'name = "{suggestion}"\n')
        self.report(
            header,
            "missing-key",
            f'environment {base[-1]!r} has no name: add name = "{suggestion}"',
            fix=fix,
        )

    def syntax(self, error: tomllib.TOMLDecodeError) -> None:
        at, message = syntax_problem(self.text, error, self.where)
        self.report(at, "toml-syntax", message)


def syntax_problem(
    text: str, error: tomllib.TOMLDecodeError, where: tomlpos.TomlIndex
) -> tuple[Range, str]:
    """Where a TOML syntax error is and what to say: tomllib's position when it gives one,
    else the duplicate key or the span tree-sitter could not parse."""
    message = str(error)
    match = _TOML_POSITION.search(message)
    reason = message[: match.start()] if match else message
    at: Range | None = None
    if match and match.group(1):
        line, column = int(match.group(1)) - 1, int(match.group(2)) - 1
        at = _to_line_end(text, line, column)
    if where.duplicates and reason.startswith("Cannot"):
        twice = where.duplicates[0]
        at, reason = twice.key, f"{'.'.join(twice.path)} is defined twice"
    elif at is None and where.errors:
        at = where.errors[0]
    elif at is None:
        at = _document_end(text)
    return at, f"TOML syntax error: {reason[:1].lower()}{reason[1:]}"


_START = Range.of(0, 0)


def _replace(at: Range | None, text: str, title: str) -> Fix | None:
    return Fix(title, at, text) if at is not None else None


def _bool_fix(at: Range | None, spec: KeySpec, value: Any) -> Fix | None:
    if spec.types == (bool,) and isinstance(value, str) and value.lower() in ("true", "false"):
        return _replace(at, value.lower(), f"Change to {value.lower()}")
    return None


def _to_line_end(text: str, line: int, column: int) -> Range:
    lines = text.split("\n")
    length = len(lines[line]) if line < len(lines) else column
    return Range.of(line, column, line, max(length, column + 1) if column < length else column)


def _document_end(text: str) -> Range:
    lines = text.split("\n")
    return Range.of(len(lines) - 1, len(lines[-1]))


def _environment(env: str, values: dict[str, Any]) -> Environment:
    args = dict(values)
    for key in ("set", "custom_tags", "override_ports"):
        if key in args:
            args[key] = tuple(args[key])
    if "image_build_args" in args:
        args["image_build_args"] = dict(args["image_build_args"])
    return Environment(environment=env, **args)


def too_deep(where: tomlpos.TomlIndex) -> tuple[Range, str] | None:
    """Where `text` nests arrays or inline tables too deeply to be read, and what to say."""
    if where.too_deep is None:
        return None
    return where.too_deep, (
        f"TOML nested more than {tomlpos.MAX_DEPTH} arrays or inline tables deep: "
        "Draft does not read it"
    )


def parse(text: str, path: Path = Path(CONFIG_FILE)) -> Config:
    """Every diagnostic of `text` plus the environments that are valid; never raises, and
    takes time linear in the text's size (`draft.limits`)."""
    with limits.bounded(len(text)):
        try:
            return _parse(text, path)
        except (limits.TooMuchWork, RecursionError) as error:
            return Config(path, {}, (limits.too_complex(path, error),))


def _parse(text: str, path: Path) -> Config:
    checker = _Checker(path, text)
    deep = too_deep(checker.where)
    if deep is not None:
        checker.report(deep[0], "too-deep", deep[1])
        return Config(path, {}, tuple(checker.found))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        checker.syntax(error)
        return Config(path, {}, tuple(checker.found))
    except (ValueError, RecursionError) as error:  # e.g. a NUL or deeply nested text
        checker.report(_START, "toml-syntax", f"TOML syntax error: {error}")
        return Config(path, {}, tuple(checker.found))
    environments = checker.document(data)
    return Config(path, environments, tuple(checker.found))


def check(text: str, path: Path = Path(CONFIG_FILE)) -> list[Diagnostic]:
    return list(parse(text, path).diagnostics)


def environment_name(explicit: str | None) -> str:
    return explicit or os.environ.get(ENVIRONMENT_VAR) or DEFAULT_ENVIRONMENT


def read(app: Path) -> Config:
    """Parse `app/draft.toml`, with a clear error when it is missing or unreadable."""
    path = app / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{app} has no {CONFIG_FILE}.", f"Run `draft create {app}` to scaffold the app first."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.") from exc
    return parse(text, path)


def load(app: Path, environment: str | None = None) -> Environment:
    """The environment to deploy, or a ConfigError when draft.toml has errors."""
    config = read(app)
    if has_errors(list(config.diagnostics)):
        first = next(d for d in config.diagnostics if d.severity is Severity.ERROR)
        raise ConfigError(
            f"{CONFIG_FILE} has errors, the first: {first.format(app)}",
            f"Run `draft check {app}` to see them all.",
        )
    return config.environment(environment_name(environment))


def render_new(app_name: str, environment: str = DEFAULT_ENVIRONMENT) -> str:
    """The draft.toml `draft create` writes: the main keys, each with its doc."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Draft's configuration: one table per environment, picked with --env."))
    doc.add(tomlkit.comment("`draft check` validates it; the README documents every key."))
    table = tomlkit.table()
    values: dict[str, Any] = {"name": app_name}
    for key in ("namespace", "target", "registry", "watch", "watch_delay", "wait", "sync"):
        values[key] = KEYS[key].default
    values |= {"dockerfile": "Dockerfile", "chart": "chart"}
    for key, value in values.items():
        item = tomlkit.item(value)
        item.comment(KEYS[key].summary)
        table.add(key, item)
    environments = tomlkit.table(is_super_table=True)
    environments.add(environment, table)
    doc.add("environments", environments)
    text = tomlkit.dumps(doc)
    return text if text.endswith("\n") else text + "\n"
