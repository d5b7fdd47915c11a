"""The wire contract (draftd/wire.py): what `draft` sends is what draftd reads, setting for
setting, and the contract stays importable by the client without the daemon."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from kit import REPO, scaffold

from draft import config, deploy
from draft.configschema import KEYS
from draftd.buildspec import parse_build_request
from draftd.wire import BuildSettings


def test_every_setting_in_draft_toml_reaches_draftd_as_the_client_sent_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAFT_HOME", str(tmp_path / "home"))  # no user defaults
    app = scaffold(
        tmp_path / "app",
        "wired",
        namespace="team",
        registry="127.0.0.1:5000",
        set=["replicaCount=2"],
        custom_tags=["dev"],
        target="docker",
        wait=False,
        sync=False,
    )
    toml = app / "draft.toml"
    toml.write_text(toml.read_text() + 'image_build_args = { MODE = "dev" }\n')

    body, _ = deploy.build_request(app, config.load(app), "save", None)
    spec = parse_build_request(body, max_blob=1 << 30)

    assert spec.settings == body["settings"]
    assert list(spec.settings) == list(BuildSettings.__annotations__), "every setting, in order"
    defaults = {key: KEYS[key].default for key in spec.settings}
    changed = {key for key, value in spec.settings.items() if value != defaults[key]}
    assert changed == set(spec.settings) - {"dockerfile", "chart"}, "non-defaults travelled"
    assert spec.trigger == "save"


def test_every_build_setting_is_a_draft_toml_key_draftd_can_check() -> None:
    fields = set(config.Environment.__dataclass_fields__)
    for key in BuildSettings.__annotations__:
        assert key in KEYS, f"{key} is not a draft.toml key (draft/configschema.py)"
        assert key in fields, f"draft.config.Environment has no {key}"


def test_the_wire_imports_the_standard_library_only() -> None:
    tree = ast.parse((REPO / "draftd" / "wire.py").read_text())
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
