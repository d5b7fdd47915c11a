"""The draft.toml JSON schema shipped with the VS Code extension is generated from the same key
table the checks use; this fails when someone changes the keys and forgets to regenerate it."""

from __future__ import annotations

import json
import runpy
import tomllib
from pathlib import Path

import jsonschema

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "editors" / "vscode" / "schemas" / "draft.schema.json"


def test_the_shipped_schema_is_up_to_date(tmp_path: Path, monkeypatch) -> None:
    committed = SCHEMA.read_text()
    generator = runpy.run_path(str(REPO / "scripts" / "gen-draft-schema.py"))
    monkeypatch.setitem(generator["main"].__globals__, "OUT", tmp_path / "schema.json")
    generator["main"]()
    assert (tmp_path / "schema.json").read_text() == committed, (
        "run: python scripts/gen-draft-schema.py"
    )


def test_a_scaffolded_draft_toml_is_valid_and_a_typo_is_not() -> None:
    from draft import config

    schema = json.loads(SCHEMA.read_text())
    good = tomllib.loads(config.render_new("tufted-lamb"))
    jsonschema.validate(good, schema)
    good["environments"]["development"]["watch_dlay"] = 2
    assert list(jsonschema.Draft7Validator(schema).iter_errors(good))
