"""Checks of a Helm chart's values, each finding at the exact place a user must edit.

In order, each step only when the previous ones found no error (a broken
values.yaml would only produce echoes further down):

1. values.yaml's YAML syntax (`yaml-syntax`);
2. `values.schema.json` (`schema`), at the offending key's range;
3. Helm's render (`helm-render`), on the template line Helm names, and Helm's
   strict lint (`helm-lint`);
4. the rendered manifests against the Kubernetes schemas (`k8s-schema`), mapped
   back to the values.yaml key whose value produced the offending field.

Nothing here raises on bad input: every problem is a `Diagnostic`.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from kubernetes_validate import utils as k8s_schemas
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from draft import helm, jsonschemas, limits, yamlpos
from draft.diagnostics import Diagnostic, Range, Severity
from draft.release import merge

VALUES_FILE = "values.yaml"
SCHEMA_FILE = "values.schema.json"
CHART_FILE = "Chart.yaml"
KUBERNETES_VERSION = k8s_schemas.latest_version()
MAX_TEXT = 2_000_000
MAX_REPORTED = 100
"""Problems of one kind reported per file: each is placed by a search of the text."""
_TEMPLATE_ERRORS = (
    re.compile(r"template: (?P<path>[^:]+):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<msg>.*)"),
    re.compile(r"parse error at \((?P<path>[^:)]+):(?P<line>\d+)\): (?P<msg>.*)"),
)
_SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def check_values(
    chart_dir: Path,
    *,
    release: str,
    namespace: str,
    extra_values: dict[str, Any] | None = None,
    values_text: str | None = None,
) -> list[Diagnostic]:
    """Every problem of the chart's values, as `draft check` and the language server show them.

    `values_text` is the editor's unsaved values.yaml; `extra_values` what a deploy
    sets on top (draft.toml's `set`, the image Draft built). Never raises; the values and
    schema are checked in time linear in their size (`draft.limits`).
    """
    with limits.bounded(len(values_text or "")):
        try:
            return _check_values(chart_dir, release, namespace, extra_values, values_text)
        except (limits.TooMuchWork, RecursionError) as error:
            return [limits.too_complex(chart_dir / VALUES_FILE, error)]


def _check_values(
    chart_dir: Path,
    release: str,
    namespace: str,
    extra_values: dict[str, Any] | None,
    values_text: str | None,
) -> list[Diagnostic]:
    values_path = chart_dir / VALUES_FILE
    if values_text is None:
        try:
            values_text = values_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            values_text = ""
        except (OSError, UnicodeDecodeError) as error:
            return [_at(values_path, Range.of(0, 0), "values-unreadable", f"cannot read: {error}")]
        limits.allow(len(values_text))
    if len(values_text) > MAX_TEXT:
        return [
            _at(values_path, Range.of(0, 0), "too-large", "values.yaml is too large to check",
                Severity.INFORMATION)
        ]  # fmt: skip
    document = yamlpos.parse(values_text)
    if document.error is not None:
        return [_at(values_path, document.error.range, "yaml-syntax", document.error.message)]
    values = document.data if document.data is not None else {}
    if not isinstance(values, dict):
        return [_at(values_path, Range.of(0, 0), "yaml-syntax", "values.yaml must be a mapping")]
    found = list(_schema_problems(chart_dir, values, document))
    if found:
        return found
    overrides = merge(values, extra_values or {})
    findings = _helm_findings(
        str(chart_dir), _fingerprint(chart_dir), json.dumps(overrides, sort_keys=True, default=str),
        release, namespace,
    )  # fmt: skip
    if findings.render_error is not None:
        return [_render_problem(chart_dir, findings.render_error)]
    found += findings.lint
    found += _place(chart_dir, findings.invalid, document)
    return found


@dataclass(frozen=True)
class _Invalid:
    """A Kubernetes schema error in a rendered manifest, before it is placed in values.yaml."""

    template: str
    instance: Any
    what: str


@dataclass(frozen=True)
class _HelmFindings:
    render_error: str | None
    lint: tuple[Diagnostic, ...] = ()
    invalid: tuple[_Invalid, ...] = ()


def _fingerprint(chart_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """What Helm reads besides the values: every chart file's name, size and mtime."""
    found = []
    for path in sorted(chart_dir.rglob("*")):
        if path.is_file() and path.name != VALUES_FILE:
            info = path.stat()
            found.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(found)


@functools.lru_cache(maxsize=32)
def _helm_findings(
    chart_dir: str,
    fingerprint: tuple[tuple[str, int, int], ...],
    values_json: str,
    release: str,
    namespace: str,
) -> _HelmFindings:
    """Helm's render and lint and the Kubernetes schema check, for one set of values.

    Cached by the values' content and the chart's files: typing a comment, or moving a
    key, costs nothing; positions are placed afresh on every call (`_place`).
    """
    folder = Path(chart_dir)
    values = json.loads(values_json)
    try:
        manifests = helm.render(folder, values, release=release, namespace=namespace)
    except helm.HelmError as error:
        return _HelmFindings(error.message)
    lint = _lint_findings(chart_dir, fingerprint)
    return _HelmFindings(None, lint, tuple(_kubernetes_problems(folder, manifests)))


@functools.lru_cache(maxsize=32)
def _lint_findings(
    chart_dir: str, fingerprint: tuple[tuple[str, int, int], ...]
) -> tuple[Diagnostic, ...]:
    """`helm lint --strict` of the chart as it is on disk. Lint looks at the chart's shape;
    what values break is found, with positions, by the schema, render and Kubernetes steps,
    so lint runs again only when a chart file changes."""
    return tuple(_lint_problems(Path(chart_dir), {}))


def check_schema_file(text: str, path: Path = Path(SCHEMA_FILE)) -> list[Diagnostic]:
    """values.schema.json: JSON syntax at its position, then a valid JSON Schema whose
    regular expressions Helm accepts. Never raises; linear in the text's size."""
    with limits.bounded(len(text)):
        try:
            return _check_schema_file(text, path)
        except (limits.TooMuchWork, RecursionError) as error:
            return [limits.too_complex(path, error)]


def _check_schema_file(text: str, path: Path) -> list[Diagnostic]:
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as error:
        return [_at(path, Range.of(error.lineno - 1, error.colno - 1), "json-syntax", error.msg)]
    except RecursionError:
        return [_at(path, Range.of(0, 0), "json-syntax", "the JSON is nested too deeply")]
    if not isinstance(schema, dict):
        return [_at(path, Range.of(0, 0), "invalid-schema", "a values schema must be an object")]
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    lines = text.splitlines()
    found = [
        _at(path, _json_pointer_range(lines, list(error.path)), "invalid-schema", error.message)
        for error in itertools.islice(
            jsonschemas.validator(cls.META_SCHEMA).iter_errors(schema), MAX_REPORTED
        )
    ]
    found += [
        _at(path, _json_pointer_range(lines, where), "invalid-schema", str(refused))
        for where, refused in itertools.islice(jsonschemas.refused_patterns(schema), MAX_REPORTED)
    ]
    return found


def check_chart_yaml(text: str, path: Path = Path(CHART_FILE)) -> list[Diagnostic]:
    """Chart.yaml: YAML syntax, apiVersion v2, a name and a SemVer version. Never raises;
    linear in the text's size."""
    with limits.bounded(len(text)):
        try:
            return _check_chart_yaml(text, path)
        except (limits.TooMuchWork, RecursionError) as error:
            return [limits.too_complex(path, error)]


def _check_chart_yaml(text: str, path: Path) -> list[Diagnostic]:
    document = yamlpos.parse(text)
    if document.error is not None:
        return [_at(path, document.error.range, "yaml-syntax", document.error.message)]
    data = document.data
    if not isinstance(data, dict):
        return [_at(path, Range.of(0, 0), "chart-invalid", "Chart.yaml must be a mapping")]
    found: list[Diagnostic] = []
    for key in ("apiVersion", "name", "version"):
        if key not in data:
            found.append(_at(path, Range.of(0, 0), "chart-missing", f"`{key}` is required"))
    if "apiVersion" in data and data["apiVersion"] != "v2":
        found.append(
            _at(path, document.value_range(("apiVersion",)) or Range.of(0, 0), "chart-invalid",
                "apiVersion must be v2 (Helm 3 and later)")
        )  # fmt: skip
    version = data.get("version")
    if version is not None and not _SEMVER.match(str(version)):
        found.append(
            _at(path, document.value_range(("version",)) or Range.of(0, 0), "chart-invalid",
                f"version {version!r} is not SemVer (e.g. 0.1.0)")
        )  # fmt: skip
    return found


def values_schema(chart_dir: Path) -> dict[str, Any] | None:
    """The chart's values.schema.json, or None when it has none (or it is not valid JSON)."""
    try:
        text = (chart_dir / SCHEMA_FILE).read_text(encoding="utf-8")
        limits.allow(len(text))
        schema = json.loads(text)
    except (OSError, ValueError, RecursionError):
        return None
    return schema if isinstance(schema, dict) else None


def default_values(chart_dir: Path) -> dict[str, Any]:
    """values.yaml as data ({} when missing or broken)."""
    try:
        document = yamlpos.parse((chart_dir / VALUES_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}
    return document.data if isinstance(document.data, dict) else {}


def _schema_problems(
    chart_dir: Path, values: dict[str, Any], document: yamlpos.YamlDocument
) -> Iterator[Diagnostic]:
    schema = values_schema(chart_dir)
    if schema is None:
        return
    values_path = chart_dir / VALUES_FILE
    try:
        validator = jsonschemas.validator(schema)
        errors = sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.path)))
    except (
        jsonschema.SchemaError,
        referencing.exceptions.Unresolvable,
        jsonschemas.PatternRefused,
    ) as error:
        yield _at(chart_dir / SCHEMA_FILE, Range.of(0, 0), "invalid-schema", str(error))
        return
    for problem in errors:
        path = tuple(problem.path)
        message = problem.message
        if problem.validator == "additionalProperties":
            extra = _unexpected_keys(problem)
            for key in extra:
                known = list(_schema_dict(problem).get("properties") or {})
                hint = _did_you_mean(key, known)
                where = document.key_range((*path, key)) or Range.of(0, 0)
                yield _at(values_path, where, "schema",
                          f"unknown key `{'.'.join(map(str, (*path, key)))}`{hint}")  # fmt: skip
            if extra:
                continue
        dotted = ".".join(map(str, path))
        if dotted:
            message = f"{dotted}: {message}"
        yield _at(values_path, document.value_range(path) or Range.of(0, 0), "schema", message)


def _unexpected_keys(error: jsonschema.ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    properties = _schema_dict(error).get("properties") or {}
    patterns = _schema_dict(error).get("patternProperties") or {}
    return [
        key
        for key in instance
        if key not in properties and not any(jsonschemas.search(p, key) for p in patterns)
    ]


def _schema_dict(error: jsonschema.ValidationError) -> dict[str, Any]:
    return dict(error.schema) if isinstance(error.schema, dict) else {}


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    import difflib

    candidates = list(known)
    limits.step(len(candidates) * (len(key) // 16 + 1))
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _render_problem(chart_dir: Path, message: str) -> Diagnostic:
    match = next((m for p in _TEMPLATE_ERRORS if (m := p.search(message))), None)
    if match is None:
        return _at(chart_dir / VALUES_FILE, Range.of(0, 0), "helm-render", message)
    inner = match.group("path").split("/", 1)[-1]
    line = max(int(match.group("line")) - 1, 0)
    col = max(int(match.groupdict().get("col") or 1) - 1, 0)
    return _at(chart_dir / inner, Range.of(line, col), "helm-render", match.group("msg"))


def _lint_problems(chart_dir: Path, values: dict[str, Any]) -> list[Diagnostic]:
    try:
        findings = helm.lint(chart_dir, values)
    except helm.HelmError as error:
        return [_at(chart_dir / CHART_FILE, Range.of(0, 0), "helm-lint", error.message)]
    found = []
    for finding in findings:
        if finding.severity is Severity.INFORMATION or _reported_above(finding.message):
            continue
        target = chart_dir / finding.path.rstrip("/") if finding.path else chart_dir
        found.append(_at(target, Range.of(0, 0), "helm-lint", finding.message, finding.severity))
    return found


def _reported_above(message: str) -> bool:
    """Lint repeats schema and render errors, which the earlier steps placed exactly."""
    return (
        "don't meet the specifications" in message
        or message.startswith("- at '/")
        or "template:" in message
    )


def _kubernetes_problems(chart_dir: Path, manifests: dict[str, str]) -> Iterator[_Invalid]:
    for template, text in sorted(manifests.items()):
        if template.endswith((".yaml", ".yml")) and text.strip():
            yield from _manifest_problems(template, text)


@functools.lru_cache(maxsize=64)
def _manifest_problems(template: str, text: str) -> tuple[_Invalid, ...]:
    """One rendered manifest against Kubernetes' schemas. Cached by its text: a value edit
    renders every template again but changes one or two, and parsing the others anew (in
    pure-Python YAML) was half of a check's time."""
    loader = YAML(typ="safe", pure=True)
    try:
        resources = [r for r in loader.load_all(text) if r]
    except YAMLError as error:
        return (_Invalid(template, _NOTHING, f"the rendered manifest is not valid YAML: {error}"),)
    found = []
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        validator = _validator(str(resource.get("apiVersion")), str(resource.get("kind")))
        if validator is None:
            continue
        for invalid in validator.iter_errors(resource):
            field = ".".join(map(str, invalid.path))
            what = f"{resource.get('kind')} {field}: {invalid.message}"
            found.append(_Invalid(template, invalid.instance, what))
    return tuple(found)


_NOTHING = object()


def _place(
    chart_dir: Path, problems: Iterable[_Invalid], document: yamlpos.YamlDocument
) -> Iterator[Diagnostic]:
    """Each schema error on the values.yaml key that produced it, else on its template."""
    for problem in itertools.islice(problems, MAX_REPORTED):
        source = _template_source(chart_dir / problem.template)
        where = None
        if problem.instance is not _NOTHING:
            where = _values_key_for(problem.instance, source, document)
        if where is not None:
            path, key_range = where
            message = f"{'.'.join(map(str, path))} makes an invalid {problem.what}"
            yield _at(chart_dir / VALUES_FILE, key_range, "k8s-schema", message)
        else:
            code = "k8s-yaml" if problem.instance is _NOTHING else "k8s-schema"
            yield _at(chart_dir / problem.template, Range.of(0, 0), code, problem.what)


def _values_key_for(
    instance: Any, template_source: str, document: yamlpos.YamlDocument
) -> tuple[yamlpos.KeyPath, Range] | None:
    """The values.yaml leaf that put `instance` into the manifest, when one certainly did."""
    for path, value in document.leaves():
        if value != instance or any(isinstance(part, int) for part in path):
            continue
        if f".Values.{'.'.join(map(str, path))}" in template_source:
            found = document.value_range(path)
            if found is not None:
                return path, found
    return None


def _template_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """The Kubernetes schema of one kind (strict: unknown fields are errors), or None."""
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"v{KUBERNETES_VERSION}-local-strict"
    try:
        schema = k8s_schemas.schema_contents(
            f"kubernetes-json-schema/{folder}/{kind.lower()}-{group}.json", KUBERNETES_VERSION
        )
        definitions = k8s_schemas.schema_contents(
            f"kubernetes-json-schema/{folder}/_definitions.json", KUBERNETES_VERSION
        )
    except (FileNotFoundError, OSError, ValueError):
        return None
    registry: referencing.Registry[Any] = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(definitions) @ registry
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(
        schema, registry=registry
    )
    return validator


def _json_pointer_range(lines: list[str], path: list[Any]) -> Range:
    """Best effort: the line of the last key of `path` in a JSON text."""
    if not path:
        return Range.of(0, 0)
    needle = f'"{path[-1]}"'
    limits.step(len(lines))
    for number, line in enumerate(lines):
        column = line.find(needle)
        if column >= 0:
            return Range.of(number, column, number, column + len(needle))
    return Range.of(0, 0)


def _at(
    path: Path, where: Range, code: str, message: str, severity: Severity = Severity.ERROR
) -> Diagnostic:
    return Diagnostic(path, where, severity, code, message)
