"""Write editors/vscode/schemas/draft.schema.json: draft.toml as a JSON Schema, from the same
key table the checks use (draft/configschema.py), for TOML extensions that validate with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from draft.configschema import KEYS

OUT = Path(__file__).resolve().parents[1] / "editors" / "vscode" / "schemas" / "draft.schema.json"
JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def key_schema(spec: Any) -> dict[str, Any]:
    types = sorted({JSON_TYPES[t] for t in spec.types if t in JSON_TYPES})
    schema: dict[str, Any] = {"description": spec.doc}
    schema["type"] = types[0] if len(types) == 1 else types
    if spec.values:
        schema["enum"] = list(spec.values)
    default = list(spec.default) if isinstance(spec.default, tuple) else spec.default
    if default is not None:
        schema["default"] = default
    return schema


def main() -> None:
    environment = {
        "type": "object",
        "properties": {name: key_schema(spec) for name, spec in KEYS.items()},
        "required": ["name"],
        "additionalProperties": False,
    }
    for spec in KEYS.values():
        if spec.hyphenated:
            environment["properties"][spec.hyphenated] = {
                **key_schema(spec), "deprecated": True,
                "description": f"Older spelling of `{spec.name}`. {spec.doc}",
            }  # fmt: skip
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "draft.toml",
        "description": "Draft's configuration: one table per environment, chosen with --env.",
        "type": "object",
        "properties": {"environments": {"type": "object", "additionalProperties": environment}},
        "required": ["environments"],
        "additionalProperties": False,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(schema, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
