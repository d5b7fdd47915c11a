"""Every parser of user input, fuzzed: draft.toml (config, tomlpos), .draft-tasks.toml,
values.yaml and Chart.yaml (chart, yamlpos), values.schema.json and the values it validates,
.dockerignore and .draftignore, the Dockerfile (its check against the chart's pod). Whatever the text, each answers with diagnostics (never a
traceback) within a per-input time ceiling, and the process stays under a memory ceiling.

Hostile shapes are generated on purpose: alias graphs, deep nesting, long lines and keys,
backtracking regular expressions. Derandomized with bounded examples, so CI runs the same
inputs in about a minute.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bombs import billion_laughs

from draft import (
    chart,
    config,
    dockerfile,
    jsonschemas,
    limits,
    manifest,
    packs,
    scaffold,
    tasks,
    watch,
)
from draft.diagnostics import Diagnostic

REPO = Path(__file__).resolve().parents[2]
CEILING_S = 5.0
"""Per input: a check that takes longer has lost its bound (they take milliseconds)."""
CEILING_MB = 1500
"""Peak resident memory during one check (a bound lost on an alias bomb is gigabytes)."""
FUZZ = settings(
    max_examples=60,
    deadline=None,  # the ceiling below is ours: hypothesis's deadline is flaky on busy CI
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # no shrinking or explaining: each re-runs the slow inputs many times (explaining under a
    # line tracer), turning one failure into many minutes of CI; the failing input is printed
    phases=[Phase.explicit, Phase.generate],
)


def peak_rss_mb() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM:"))


def within_ceiling(check: Callable[[], Any]) -> Any:
    """Time and peak memory of this one check: the peak is reset first (clear_refs 5), so
    what the run's earlier tests used does not count against it."""
    Path("/proc/self/clear_refs").write_text("5")
    started = time.monotonic()
    result = check()
    took = time.monotonic() - started
    assert took < CEILING_S, f"took {took:.1f} s"
    peak_mb = peak_rss_mb()
    assert peak_mb < CEILING_MB, f"peak memory {peak_mb} MB"
    return result


def well_formed(found: list[Diagnostic]) -> None:
    for diagnostic in found:
        assert diagnostic.range.start <= diagnostic.range.end
        assert diagnostic.message
        assert diagnostic.code != "internal", diagnostic.message


# -- text made of each format's tokens, and hostile shapes ----------------------------------


def tokens(words: list[str], size: int = 60) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(words), max_size=size).map("".join)


def nested(opening: str, closing: str, inner: str = "") -> st.SearchStrategy[str]:
    return st.integers(0, 3000).map(lambda depth: opening * depth + inner + closing * depth)


TOML_WORDS = [
    "[environments.development]", "[environments.", "[environments.dev.x]", "[[environments]]",
    "name = ", '"tufted-lamb"', "watch = true", "watch-delay = ", "= 1", "{", "}", "[", "]",
    ",", '"', "'''", '"""', "\n", " ", "#", "é", "set = [", "image_build_args = {", "a.b.c = 1",
    "1e400", "2026-11-24T00:00:00Z", "\ud800", "x = ", "[pre-up]", 'gen = "echo hi"', "k.",
]  # fmt: skip
TOML = st.one_of(
    st.text(max_size=200),
    tokens(TOML_WORDS),
    nested("[", "]").map(lambda v: f'[environments.d]\nname = "a"\nset = {v}\n'),
    nested("{ a = ", " }", "1").map(lambda v: f"[environments.d]\nx = {v}\n"),
    st.integers(1, 5000).map(lambda n: ".".join(["k"] * n) + " = 1\n"),
    st.integers(1, 20000).map(lambda n: "a = [" + "1," * n + "]\n"),
    st.integers(1, 3000).map(lambda n: "[environments.d]\n" + "".join(f"k{i}.x = 1\n" for i in range(n))),
)  # fmt: skip

YAML_WORDS = [
    "a:", " b:", "  - ", "- ", "&a ", "*a", "&b ", "*b", "<<: ", "<<: [*a, *b]", "[", "]",
    "{", "}", ", ", "\n", "  ", '"', "'", "|", ">", "? ", "!!str ", "!!map ", "---", "...",
    "# c", "1", "true", "null", "é", "\t", "%YAML 1.2\n", "replicaCount: ", "image:\n  tag: ",
]  # fmt: skip


def alias_graph(levels: int, fan: int, merge: bool) -> str:
    if not merge:
        return billion_laughs(levels, fan)
    lines = ["l0: &l0 {x0: 1}"]
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * fan)
        lines.append(f"l{level}: &l{level} {{<<: [{refs}], x{level}: {level}}}")
    return "\n".join(lines) + "\n"


YAML = st.one_of(
    st.text(max_size=200),
    tokens(YAML_WORDS),
    st.builds(alias_graph, st.integers(1, 12), st.integers(1, 12), st.booleans()),
    nested("[", "]").map(lambda v: f"a: {v}\n"),
    nested("{a: ", "}", "1").map(lambda v: f"a: {v}\n"),
    st.integers(1, 400).map(lambda n: "".join(" " * i + "k:\n" for i in range(n))),
    st.integers(1, 20000).map(lambda n: "a: {" + ", ".join(f"k{i}: {i}" for i in range(n)) + "}\n"),
)  # fmt: skip

BACKTRACKING = [
    "^(a+)+$",
    "(a|a)*b",
    "^(a|aa)+$",
    "(x+x+)+y",
    "^([a-z]+)*[0-9]$",
    "(?!a)b",
    "(a)\\1",
]
REGEX = st.one_of(
    st.sampled_from(BACKTRACKING),
    tokens(["a", "+", "*", "(", ")", "|", "?", "[", "]", "^", "$", "\\", "{2}", "."], 20),
)
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40))
SCHEMA = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["object", "string", "integer", "array", "boolean"]),
            "pattern": REGEX,
            "minLength": st.integers(0, 5),
            "enum": st.lists(JSON_LEAF, max_size=3),
        },
    ),
    lambda inner: st.one_of(
        st.fixed_dictionaries(
            {"properties": st.dictionaries(st.sampled_from(["a", "b", "name", "replicaCount"]), inner, max_size=3)},
            optional={
                "additionalProperties": st.one_of(st.booleans(), inner),
                "patternProperties": st.dictionaries(REGEX, inner, max_size=2),
                "required": st.lists(st.sampled_from(["a", "b"]), max_size=2),
            },
        ),
        st.fixed_dictionaries({"anyOf": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"items": inner}),
    ),
    max_leaves=12,
)  # fmt: skip
VALUES = st.recursive(
    st.one_of(JSON_LEAF, st.integers(1, 60).map(lambda n: "a" * n + "!")),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "b", "name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"]), inner, max_size=4),
    ),
    max_leaves=15,
)  # fmt: skip
IGNORE_WORDS = [
    "*",
    "**",
    "**/",
    "/",
    "a",
    "b",
    "?",
    "[a-z]",
    "[!a]",
    "!",
    "#",
    "\\",
    "\n",
    " ",
    ".",
    "*a",
    "{",
    "}",
]

DOCKERFILE_WORDS = [
    "FROM ", "python:3.12-slim", " AS build", "--platform=$BUILDPLATFORM ", "USER ", "root",
    "0", "10001", ":10001", "node", "$APP_UID", "${UID:-0}", "EXPOSE ", "5000", "8080/tcp",
    "$PORT", "1-65535", "-1", "99999999999999999999", "²", "٣", "RUN ", "echo hi", "ARG ",
    "ENV ", "A=1", "COPY . /app", "CMD [", '"python"', ", ", "]", "<<EOF\n", "EOF\n",
    "HEALTHCHECK ", "ONBUILD ", "# escape=`\n", "`\n", "\\\n", "\n", " ", "\t", "#", "'",
    '"', "é", "\r\n", "\ufeff", "\x00",
]  # fmt: skip
DOCKERFILE = st.one_of(
    st.text(max_size=200),
    tokens(DOCKERFILE_WORDS, 80),
    st.integers(1, 5000).map(lambda n: "FROM x\n" + "RUN a \\\n" * n + "USER root\n"),
    st.integers(1, 3000).map(lambda n: "FROM x\nUSER root\n" * n),
    st.integers(1, 20000).map(lambda n: "FROM x\nEXPOSE " + " ".join(map(str, range(n))) + "\n"),
    st.integers(1, 6000).map(lambda n: "FROM x\nUSER " + "9" * n + "\nEXPOSE " + "9" * n + "\n"),
    st.integers(1, 6000).map(lambda n: "FROM " + "x" * n * 10 + "\n"),
)  # fmt: skip
POD_FACTS = st.builds(
    dockerfile.PodFacts,
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 2**40)),
    st.lists(st.integers(1, 65535), max_size=3).map(tuple),
)


# -- the tests ------------------------------------------------------------------------------


@FUZZ
@given(TOML)
def test_draft_toml_is_checked_within_the_ceiling(text: str) -> None:
    parsed = within_ceiling(lambda: config.parse(text))
    well_formed(list(parsed.diagnostics))


@FUZZ
@given(TOML)
def test_draft_tasks_toml_is_checked_within_the_ceiling(text: str) -> None:
    well_formed(list(within_ceiling(lambda: tasks.parse(text)).diagnostics))


@pytest.fixture(scope="module")
def chart_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("app")
    shutil.copytree(REPO / "examples" / "python", root, dirs_exist_ok=True)
    scaffold.create(root, packs.find_pack("python"), "fuzzed")
    yield root / "chart"


@FUZZ
@given(YAML)
def test_chart_yaml_is_checked_within_the_ceiling(text: str) -> None:
    well_formed(within_ceiling(lambda: chart.check_chart_yaml(text)))


@settings(FUZZ, max_examples=40)
@given(YAML)
def test_values_yaml_is_checked_within_the_ceiling(chart_dir: Path, text: str) -> None:
    found = within_ceiling(
        lambda: chart.check_values(
            chart_dir, release="fuzzed", namespace="default", values_text=text
        )
    )
    well_formed(found)


@FUZZ
@given(
    st.one_of(
        SCHEMA.map(json.dumps), st.text(max_size=200), nested("[", "]"), nested('{"a":', "}", "1")
    )
)
def test_values_schema_json_is_checked_within_the_ceiling(text: str) -> None:
    well_formed(within_ceiling(lambda: chart.check_schema_file(text)))


@FUZZ
@given(SCHEMA, VALUES)
def test_values_are_validated_against_any_schema_within_the_ceiling(
    schema: Any, values: Any
) -> None:
    """The validation step of check_values, on its own (Helm's render is not what is fuzzed)."""

    def validate() -> list[str]:
        with limits.bounded(len(json.dumps(schema)) + len(json.dumps(values))):
            try:
                return [e.message for e in jsonschemas.validator(schema).iter_errors(values)]
            except (jsonschemas.PatternRefused, limits.TooMuchWork):
                return []

    within_ceiling(validate)


def test_a_multiplying_schema_ends_in_a_diagnostic_not_a_hang(chart_dir: Path) -> None:
    """anyOf of two failing branches at every level: 2**depth branches for a deep value."""
    schema_path = chart_dir / "values.schema.json"
    original = schema_path.read_text()
    definitions: dict[str, Any] = {"d0": {"type": "string"}}
    for level in range(1, 41):  # each level tries both branches of the one below: 2**40
        below = {"$ref": f"#/definitions/d{level - 1}"}
        definitions[f"d{level}"] = {
            "anyOf": [
                {"type": "object", "properties": {"a": below}},
                {"type": "object", "properties": {"a": below}, "required": ["b"]},
            ]
        }
    schema = {"definitions": definitions, "properties": {"deep": {"$ref": "#/definitions/d40"}}}
    schema_path.write_text(json.dumps(schema))
    deep = "deep:\n" + "".join("  " * (i + 1) + "a:\n" for i in range(40)) + "  " * 41 + "a: 1\n"
    try:
        found = within_ceiling(
            lambda: chart.check_values(
                chart_dir, release="fuzzed", namespace="default", values_text=deep
            )
        )
    finally:
        schema_path.write_text(original)
    assert [d.code for d in found] == ["too-complex"], found


@settings(FUZZ, max_examples=40)
@given(
    tokens(IGNORE_WORDS, 40),
    st.lists(st.text("ab/.", min_size=1, max_size=60), min_size=1, max_size=5),
)
def test_dockerignore_and_draftignore_are_read_within_the_ceiling(
    tmp_path_factory: pytest.TempPathFactory, patterns: str, paths: list[str]
) -> None:
    root = tmp_path_factory.mktemp("ignore")
    (root / manifest.DOCKERIGNORE).write_text(patterns)
    (root / watch.DRAFTIGNORE).write_text(patterns)
    (root / "Dockerfile").write_text("FROM scratch\n")
    for path in paths:
        target = root / "files" / path.strip("/").replace("..", "x")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("x")
        except OSError:  # a folder where a file was made, or the other way round
            pass

    def read() -> None:
        try:
            entries = manifest.build_context(root)
            assert "Dockerfile" in {e.path for e in entries}
        except manifest.ContextError as error:  # a pattern Docker refuses too, named
            assert "is not a valid pattern" in str(error)
        ignore = watch.ignored_paths(root)
        for path in paths:
            ignore.match_file("a" * 50 + path)

    within_ceiling(read)


@FUZZ
@given(DOCKERFILE, POD_FACTS)
@example("FROM x\nEXPOSE ²\n", dockerfile.PodFacts(True, None, (5000,)))
@example("FROM x\nUSER " + "9" * 5000 + "\n", dockerfile.PodFacts(True, 10001, ()))
def test_the_dockerfile_is_checked_within_the_ceiling(text: str, facts: Any) -> None:
    """`dockerfile.check` never raises: a Dockerfile it cannot read is the build's to report."""
    well_formed(within_ceiling(lambda: dockerfile.check(Path("Dockerfile"), text, facts)))


def test_jsonschema_still_calls_re_search_where_draft_replaces_it() -> None:
    """draft.jsonschemas swaps jsonschema's `re` for RE2's search: a jsonschema release that
    moves those calls must fail here, not quietly bring back backtracking."""
    jsonschemas.install()
    for module in jsonschemas._PATCHED:
        assert isinstance(module.re, jsonschemas._LinearRe), module.__name__
    started = time.monotonic()
    validator = jsonschemas.validator(
        {
            "patternProperties": {"^(a+)+$": {}},
            "additionalProperties": False,
            "unevaluatedProperties": False,
            "$schema": "https://json-schema.org/draft/2020-12/schema",
        }
    )
    list(validator.iter_errors({"a" * 40 + "!": 1}))
    assert time.monotonic() - started < 1
