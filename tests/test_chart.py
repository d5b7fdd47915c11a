"""Chart checks: a user edits values.yaml (or the schema, or Chart.yaml) and is told exactly where
it went wrong — YAML syntax, values.schema.json, Helm's own render and lint, and the Kubernetes
schemas of what the chart renders. Helm runs for real, through helm-python-sdk."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from draft import chart, helm, packs, scaffold

sys.path.insert(0, str(Path(__file__).resolve().parent / "hostile"))
from bombs import billion_laughs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app")
    shutil.copytree(REPO / "examples" / "python", root, dirs_exist_ok=True)
    scaffold.create(root, packs.find_pack("python"), "tufted-lamb")
    return root


@pytest.fixture(scope="module")
def values(app: Path) -> str:
    return (app / "chart" / "values.yaml").read_text()


def check(app: Path, text: str) -> list[tuple[str, int, int, str]]:
    found = chart.check_values(
        app / "chart", release="tufted-lamb", namespace="default", values_text=text
    )
    return [
        (d.path.name, d.range.start.line + 1, d.range.start.character + 1, d.code) for d in found
    ]


def test_the_scaffolded_chart_has_no_problems(app: Path, values: str) -> None:
    assert check(app, values) == []


# (what the user did, how values.yaml changes, (file, line, column, code) — 1-based like `draft check`)
BAD_VALUES = [
    (
        "replicaCount as a word",
        ("replicaCount: 1", "replicaCount: three"),
        ("values.yaml", 2, 15, "schema"),
    ),
    (
        "misspelt top-level key",
        ("replicaCount: 1", "replicaCont: 1"),
        ("values.yaml", 2, 1, "schema"),
    ),
    ("misspelt nested key", ("  tag: latest", "  tagg: latest"), ("values.yaml", 6, 3, "schema")),
    (
        "pullPolicy outside its enum",
        ("pullPolicy: IfNotPresent", "pullPolicy: Sometimes"),
        ("values.yaml", 7, 15, "schema"),
    ),
    (
        "port out of range",
        ("containerPort: 8080", "containerPort: 99999"),
        ("values.yaml", 14, 16, "schema"),
    ),
    (
        "service type misspelt",
        ("type: ClusterIP", "type: ClusterIp"),
        ("values.yaml", 17, 9, "schema"),
    ),
    (
        "ingress flag as text",
        ("  enabled: false", "  enabled: nope"),
        ("values.yaml", 45, 12, "schema"),
    ),
    ("env as a mapping", ("env: []", "env: {A: b}"), ("values.yaml", 31, 6, "schema")),
    (
        "unclosed flow sequence",
        ("imagePullSecrets: []", "imagePullSecrets: [a, b"),
        ("values.yaml", 10, 13, "yaml-syntax"),
    ),
    (
        "tab indentation",
        ("  repository: tufted-lamb", "\trepository: tufted-lamb"),
        ("values.yaml", 5, 1, "yaml-syntax"),
    ),
    (
        "duplicate key",
        ('nameOverride: ""', 'nameOverride: ""\nnameOverride: x'),
        ("values.yaml", 11, 1, "yaml-syntax"),
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in BAD_VALUES], ids=[i for i, _, _ in BAD_VALUES]
)
def test_bad_values_are_reported_at_their_exact_place(
    app: Path, values: str, change: tuple[str, str], expected: tuple[str, int, int, str]
) -> None:
    old, new = change
    assert old in values
    found = check(app, values.replace(old, new, 1))
    assert expected in found, found


def test_a_misspelt_key_suggests_the_right_one(app: Path, values: str) -> None:
    found = chart.check_values(
        app / "chart",
        release="tufted-lamb",
        namespace="default",
        values_text=values.replace("replicaCount: 1", "replicaCont: 1"),
    )
    assert "did you mean `replicaCount`" in found[0].message


def test_kubernetes_schema_errors_point_at_the_values_key(
    app: Path, values: str, tmp_path: Path
) -> None:
    """Without values.schema.json, `replicaCount: three` still fails: the rendered Deployment is
    invalid Kubernetes, and the error lands on the values.yaml line that put it there."""
    bare = tmp_path / "chart"
    shutil.copytree(app / "chart", bare)
    (bare / "values.schema.json").unlink()
    found = chart.check_values(
        bare,
        release="r",
        namespace="default",
        values_text=values.replace("replicaCount: 1", "replicaCount: three"),
    )
    assert [(d.path.name, d.range.start.line, d.code) for d in found] == [
        ("values.yaml", 1, "k8s-schema")
    ]
    assert "spec.replicas" in found[0].message


def test_a_template_error_is_reported_on_the_template_line(app: Path, tmp_path: Path) -> None:
    broken = tmp_path / "chart"
    shutil.copytree(app / "chart", broken)
    service = broken / "templates" / "service.yaml"
    lines = service.read_text().splitlines()
    lines.insert(3, "  oops: {{ .Values.service.port | nosuchfunction }}")
    service.write_text("\n".join(lines) + "\n")
    found = chart.check_values(broken, release="r", namespace="default")
    assert found, "a template calling an unknown function must be reported"
    assert found[0].path == service
    assert found[0].code == "helm-render"
    assert found[0].range.start.line == 3


def test_deploy_values_are_checked_too(app: Path) -> None:
    """draft.toml's `set` goes through the same checks: a bad value there is an error."""
    found = chart.check_values(
        app / "chart", release="r", namespace="default", extra_values={"service": {"port": "http"}}
    )
    assert [d.code for d in found] == ["k8s-schema"] or [d.code for d in found] == ["helm-render"]


@pytest.mark.parametrize(
    ("text", "line", "col", "code"),
    [
        ("apiVersion: v1\nname: x\nversion: 0.1.0\n", 1, 13, "chart-invalid"),
        ("apiVersion: v2\nname: x\nversion: one\n", 3, 10, "chart-invalid"),
        ("apiVersion: v2\nversion: 0.1.0\n", 1, 1, "chart-missing"),
        ("apiVersion: v2\nname: [x\n", 3, 1, "yaml-syntax"),
    ],
)
def test_chart_yaml_problems(text: str, line: int, col: int, code: str) -> None:
    found = chart.check_chart_yaml(text)
    assert (found[0].range.start.line + 1, found[0].range.start.character + 1, found[0].code) == (
        line,
        col,
        code,
    )


def test_values_schema_problems() -> None:
    syntax = chart.check_schema_file('{\n  "type": "object",\n  "properties": {,}\n}')
    assert [(d.range.start.line, d.code) for d in syntax] == [(2, "json-syntax")]
    invalid = chart.check_schema_file(
        '{\n  "type": "object",\n  "properties": {\n    "a": {"type": 3}\n  }\n}'
    )
    assert [d.code for d in invalid] == ["invalid-schema"]
    assert chart.check_schema_file('{"type": "object"}') == []


def test_set_expressions_are_typed_like_helm() -> None:
    assert helm.parse_set("a.b=1,c[0]=x,d=true") == {"a": {"b": 1}, "c": ["x"], "d": True}
    with pytest.raises(helm.HelmError, match="not a valid --set expression"):
        helm.parse_set("a[=1")
    with pytest.raises(helm.HelmError, match="has no value"):
        helm.parse_set("replicas")


def test_render_gives_manifests_by_template(app: Path) -> None:
    manifests = helm.render(
        app / "chart", {"image": {"tag": "abc"}}, release="tufted-lamb", namespace="default"
    )
    assert 'image: "tufted-lamb:abc"' in manifests["templates/deployment.yaml"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_checks_never_raise_on_arbitrary_text(app: Path, text: str) -> None:
    chart.check_values(app / "chart", release="r", namespace="default", values_text=text)
    chart.check_chart_yaml(text)
    chart.check_schema_file(text)


BOMB_CHECK = """
import sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from bombs import billion_laughs, chart_bomb
from draft import chart
started = time.monotonic()
values = chart.check_values(Path({chart!r}), release="tufted-lamb", namespace="default",
                            values_text=billion_laughs())
chart_yaml = chart.check_chart_yaml(chart_bomb())
# VmHWM is this process's own peak: ru_maxrss would also count the pytest process it was
# spawned from (Linux carries the pre-exec peak over an execve), hundreds of MB late in a run.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
               if line.startswith("VmHWM:"))
print(time.monotonic() - started, peak_kb // 1024)
for found in (values, chart_yaml):
    print([(d.code, d.range.start.line, d.message) for d in found])
"""


def test_a_yaml_alias_bomb_is_refused_with_a_diagnostic_in_little_time_and_memory(
    app: Path,
) -> None:
    """1.2 KB of billion-laughs aliases: refused at the alias that tips it, as Helm refuses
    it, instead of being walked as a tree of 387 million values."""
    import subprocess

    assert len(billion_laughs()) < 1300
    script = BOMB_CHECK.format(tests=str(REPO / "tests" / "hostile"), chart=str(app / "chart"))
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("checking a 1.2 KB alias bomb took over 60 s")
    assert done.returncode == 0, done.stderr[-2000:]
    took, peak_mb = done.stdout.splitlines()[0].split()
    assert float(took) < 5 and int(peak_mb) < 400, done.stdout
    for line in done.stdout.splitlines()[1:]:
        assert "'yaml-syntax'" in line and "excessive aliasing" in line, line


@pytest.mark.timeout(60)
def test_a_backtracking_schema_pattern_is_checked_in_linear_time(app: Path, values: str) -> None:
    """`^(a+)+$` against 34 a's and a `!`: Python's re takes hours, RE2 (what Helm's Go
    regexp is) microseconds, with the same answer."""
    import json
    import time

    chart_dir = app / "chart"
    schema_path = chart_dir / "values.schema.json"
    original = schema_path.read_text()
    schema = json.loads(original)
    schema["properties"]["greeting"] = {"type": "string", "pattern": "^(a+)+$"}
    schema["patternProperties"] = {"^(x+)+$": {"type": "string"}}
    schema_path.write_text(json.dumps(schema))
    try:
        started = time.monotonic()
        found = check(app, values + 'greeting: "' + "a" * 34 + '!"\n' + "x" * 34 + "!: 1\n")
        assert time.monotonic() - started < 10
        assert ("values.yaml", values.count("\n") + 1, 11, "schema") in found
    finally:
        schema_path.write_text(original)


def test_a_schema_pattern_helm_cannot_compile_is_reported_where_it_is() -> None:
    text = '{\n  "properties": {\n    "name": {"type": "string", "pattern": "^(?!admin)"}\n  }\n}\n'
    (found,) = chart.check_schema_file(text)
    assert found.code == "invalid-schema" and found.range.start.line == 2
    assert "not a regular expression Helm accepts" in found.message
