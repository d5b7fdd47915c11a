"""What to offer and explain at a position of `draft.toml` or a chart's `values.yaml`.

Editors ask "what can I type here?" and "what is this key?"; the answers come
from the same tables the checks use — `configschema.KEYS` for draft.toml, the
chart's `values.schema.json` and `values.yaml` defaults for values — so a key
documented here is a key the checks accept. Works on half-typed text: positions
are found line by line, not by a parser that gives up on the first error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from draft import chart, configschema, tomlpos


@dataclass(frozen=True)
class Suggestion:
    label: str
    detail: str
    documentation: str
    insert_text: str
    kind: str  # "key" | "value"


@dataclass(frozen=True)
class Explanation:
    title: str
    markdown: str


# -- draft.toml -------------------------------------------------------------------------


def _environment_table(text: str, line: int) -> bool:
    table = tomlpos.index(text).table_at(line)
    return len(table) == 2 and table[0] == "environments"


def _toml_key_at(text: str, line: int, character: int) -> tuple[str, bool]:
    """The key on `line` and whether the cursor is in its value (after `=`)."""
    lines = text.splitlines()
    current = lines[line] if 0 <= line < len(lines) else ""
    before = current[:character]
    key = current.split("=", 1)[0].strip().strip('"')
    return key, "=" in before


def toml_completions(text: str, line: int, character: int) -> list[Suggestion]:
    if not _environment_table(text, line):
        return [
            Suggestion(
                "[environments.development]",
                "an environment table",
                "A table per environment; `draft up --env NAME` picks one (default development).",
                '[environments.development]\nname = "my-app"\n',
                "key",
            )
        ]
    key, in_value = _toml_key_at(text, line, character)
    if in_value:
        spec = configschema.KEYS.get(key)
        if spec is None:
            return []
        if spec.values:
            return [Suggestion(v, spec.type_name, spec.doc, f'"{v}"', "value") for v in spec.values]
        if bool in spec.types:
            return [Suggestion(v, "boolean", spec.doc, v, "value") for v in ("true", "false")]
        return []
    present = {
        entry.path[-1]
        for entry in tomlpos.index(text).entries.values()
        if len(entry.path) == 3 and entry.key.start.line != line
    }
    return [
        Suggestion(
            spec.name,
            f"{spec.type_name} = {_toml_value(spec.default)}",
            spec.doc,
            f"{spec.name} = {_toml_value(spec.default)}",
            "key",
        )
        for spec in configschema.KEYS.values()
        if spec.name not in present
    ]


def toml_hover(text: str, line: int, character: int) -> Explanation | None:
    key, _ = _toml_key_at(text, line, character)
    spec = configschema.KEYS.get(key) or next(
        (s for s in configschema.KEYS.values() if s.hyphenated == key), None
    )
    if spec is None:
        return None
    lines = [f"**{spec.name}** — {spec.type_name}, default `{_toml_value(spec.default)}`", ""]
    lines.append(spec.doc)
    if spec.values:
        lines += ["", "One of: " + ", ".join(f"`{v}`" for v in spec.values)]
    if spec.hyphenated == key:
        lines += ["", f"`{key}` is the older spelling; prefer `{spec.name}`."]
    return Explanation(spec.name, "\n".join(lines))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[]"
    if isinstance(value, dict):
        return "{}"
    return str(value)


# -- values.yaml ------------------------------------------------------------------------

_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[A-Za-z_][\w.-]*)\s*:")


def yaml_path_at(text: str, line: int) -> tuple[tuple[str, ...], str | None]:
    """The mapping path that contains `line`, and the key written on it (if any).

    Indentation decides nesting, so this works while the document does not parse.
    """
    lines = text.splitlines()
    current = lines[line] if 0 <= line < len(lines) else ""
    own = _KEY_LINE.match(current)
    indent = len(own.group("indent")) if own else len(current) - len(current.lstrip())
    parents: list[str] = []
    limit = indent
    for above in reversed(lines[:line]):
        match = _KEY_LINE.match(above)
        if not above.strip() or above.lstrip().startswith("#") or match is None:
            continue
        depth = len(match.group("indent"))
        if depth < limit and not above.rstrip().endswith(match.group("key") + ": |"):
            parents.insert(0, match.group("key"))
            limit = depth
            if depth == 0:
                break
    return tuple(parents), own.group("key") if own else None


def _schema_at(schema: dict[str, Any] | None, path: tuple[str, ...]) -> dict[str, Any] | None:
    node = schema
    for part in path:
        if node is None:
            return None
        node = (node.get("properties") or {}).get(part)
    return node


def _default_at(values: Any, path: tuple[str, ...]) -> Any:
    node = values
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def values_completions(chart_dir: Path, text: str, line: int) -> list[Suggestion]:
    parents, _ = yaml_path_at(text, line)
    schema = chart.values_schema(chart_dir)
    defaults = chart.default_values(chart_dir)
    node = _schema_at(schema, parents)
    keys: dict[str, dict[str, Any]] = dict((node or {}).get("properties") or {})
    default_node = _default_at(defaults, parents)
    if isinstance(default_node, dict):
        for key in default_node:
            keys.setdefault(str(key), {})
    found = []
    for key, spec in sorted(keys.items()):
        default = _default_at(defaults, (*parents, key))
        kind = (
            spec.get("type") or type(default).__name__
            if default is not None
            else spec.get("type", "")
        )
        nested = isinstance(default, dict) or spec.get("type") == "object"
        insert = f"{key}:\n  " if nested else f"{key}: "
        found.append(
            Suggestion(
                key,
                f"{kind}"
                + (f", default {json.dumps(default)}" if default not in (None, {}) else ""),
                str(spec.get("description", "")),
                insert,
                "key",
            )
        )
    return found


def values_hover(chart_dir: Path, text: str, line: int) -> Explanation | None:
    parents, key = yaml_path_at(text, line)
    if key is None:
        return None
    path = (*parents, key)
    spec = _schema_at(chart.values_schema(chart_dir), path) or {}
    default = _default_at(chart.default_values(chart_dir), path)
    if not spec and default is None:
        return None
    dotted = ".".join(path)
    kind = spec.get("type", type(default).__name__ if default is not None else "")
    lines = [
        f"**{dotted}** — {kind}"
        + (f", default `{json.dumps(default)}`" if default is not None else "")
    ]
    if spec.get("description"):
        lines += ["", str(spec["description"])]
    if spec.get("enum"):
        lines += ["", "One of: " + ", ".join(f"`{v}`" for v in spec["enum"])]
    return Explanation(dotted, "\n".join(lines))
