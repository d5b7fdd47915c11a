"""draft.toml: what a user sees when they get it wrong, and that nothing crashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from draft import config
from draft.diagnostics import Severity
from draft.errors import ConfigError

HEADER = "[environments.development]\n"


def only(text: str):
    found = config.check(text)
    assert len(found) == 1, [d.format() for d in found]
    return found[0]


def apply_fix(text: str, diagnostic) -> str:
    fix = diagnostic.fix
    assert fix is not None, diagnostic.format()
    lines = text.split("\n")
    start, end = fix.range.start, fix.range.end
    before = "\n".join([*lines[: start.line], lines[start.line][: start.character]])
    after = "\n".join([lines[end.line][end.character :], *lines[end.line + 1 :]])
    return before + fix.new_text + after


# (draft.toml text, zero-based line, zero-based column, code)
BAD_INPUTS = [
    pytest.param(HEADER + 'name = "tufted-lamb"\nwtach = true\n', 2, 0, "unknown-key", id="misspelt-key"),
    pytest.param(HEADER + 'name = "tufted-lamb"\nwatch = "yes"\n', 2, 8, "wrong-type", id="string-for-bool"),
    pytest.param(HEADER + 'name = "tufted-lamb"\nwatch_delay = "2s"\n', 2, 14, "wrong-type", id="string-for-number"),
    pytest.param(HEADER + 'name = "tufted-lamb"\nwatch_delay = -1\n', 2, 14, "out-of-range", id="negative-delay"),
    pytest.param(HEADER + 'name = "Tufted_Lamb"\n', 1, 7, "invalid-name", id="name-not-dns"),
    pytest.param(HEADER + f'name = "{"a" * 54}"\n', 1, 7, "invalid-name", id="name-too-long"),
    pytest.param(HEADER + 'name = "ok"\nnamespace = "-bad"\n', 2, 12, "invalid-name", id="bad-namespace"),
    pytest.param(HEADER + 'name = "ok"\ntarget = "k8s"\n', 2, 9, "invalid-value", id="unknown-target"),
    pytest.param(HEADER + 'name = "ok"\nset = ["replicaCount=2", "oops"]\n', 2, 25, "invalid-set", id="set-without-equals"),
    pytest.param(HEADER + 'name = "ok"\ncustom_tags = ["v1", "no spaces"]\n', 2, 21, "invalid-tag", id="bad-tag"),
    pytest.param(HEADER + 'name = "ok"\noverride_ports = ["8080:99999"]\n', 2, 18, "invalid-port", id="port-out-of-range"),
    pytest.param(HEADER + 'name = "ok"\nimage_build_args = { A = "1", B = 2 }\n', 2, 34, "wrong-type", id="non-string-build-arg"),
    pytest.param(HEADER + 'name = "ok"\nregistry = "http://127.0.0.1:5000"\n', 2, 11, "invalid-registry", id="registry-url"),
    pytest.param(HEADER + 'name = "ok"\nwatch = \n', 2, 8, "toml-syntax", id="missing-value"),
    pytest.param(HEADER + 'name = "ok"\nname = "again"\n', 2, 0, "toml-syntax", id="duplicate-key"),
    pytest.param(HEADER + 'name = "ok"\nwatch = true false\n', 2, 13, "toml-syntax", id="two-values"),
    pytest.param(HEADER + 'namespace = "default"\n', 0, 1, "missing-key", id="no-name"),
    pytest.param('colour = "blue"\n' + HEADER + 'name = "ok"\n', 0, 0, "unknown-key", id="unknown-top-level"),
    pytest.param('[environment.development]\nname = "ok"\n', 0, 1, "unknown-key", id="singular-environment"),
    pytest.param("environments = 3\n", 0, 15, "wrong-type", id="environments-not-table"),
    pytest.param(HEADER + 'name = "ok"\nwatch-delay = 1\nwatch_delay = 2\n', 2, 0, "duplicate-key", id="both-spellings"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "column", "code"), BAD_INPUTS)
def test_bad_draft_toml_is_reported_at_the_exact_spot(text, line, column, code):
    diagnostic = only(text)
    assert (diagnostic.code, diagnostic.range.start.line, diagnostic.range.start.character) == (
        code,
        line,
        column,
    ), diagnostic.format()
    assert diagnostic.severity is Severity.ERROR


def test_a_generated_draft_toml_is_clean_and_loads():
    text = config.render_new("tufted-lamb")
    parsed = config.parse(text)
    assert parsed.diagnostics == ()
    env = parsed.environment("development")
    assert (env.name, env.namespace, env.watch, env.watch_delay, env.target) == (
        "tufted-lamb",
        "default",
        True,
        0.2,
        "auto",
    )


def test_misspelt_key_suggests_the_right_one_and_its_fix_removes_the_diagnostic():
    text = HEADER + 'name = "ok"\nwatch_dely = 3\n'
    diagnostic = only(text)
    assert "did you mean 'watch_delay'" in diagnostic.message
    fixed = apply_fix(text, diagnostic)
    assert config.check(fixed) == []
    assert config.parse(fixed).environment("development").watch_delay == 3


def test_invalid_name_fix_offers_a_valid_name():
    text = HEADER + 'name = "My_Cool App"\n'
    fixed = apply_fix(text, only(text))
    assert config.parse(fixed).environment("development").name == "my-cool-app"


def test_missing_name_fix_inserts_one_under_the_header():
    text = HEADER + 'namespace = "default"\n'
    fixed = apply_fix(text, only(text))
    assert config.check(fixed) == []


def test_quoted_true_for_a_boolean_is_fixed_to_the_boolean():
    text = HEADER + 'name = "ok"\nwait = "false"\n'
    fixed = apply_fix(text, only(text))
    assert config.parse(fixed).environment("development").wait is False


def test_hyphenated_keys_of_later_draft_releases_are_accepted_with_a_hint():
    text = (
        HEADER + 'name = "ok"\nwatch-delay = 5\nauto-connect = true\noverride-ports = ["8080:80"]\n'
    )
    parsed = config.parse(text)
    assert [(d.code, d.severity) for d in parsed.diagnostics] == [
        ("hyphenated-key", Severity.HINT)
    ] * 3
    env = parsed.environment("development")
    assert (env.watch_delay, env.auto_connect, env.override_ports) == (5, True, ("8080:80",))
    fixed = apply_fix(text, parsed.diagnostics[0])
    assert "watch_delay = 5" in fixed


def test_original_draft_file_loads(tmp_path: Path):
    # The shape `draft create` of the original Draft (v0.16) wrote.
    (tmp_path / "draft.toml").write_text(
        "[environments]\n"
        "  [environments.development]\n"
        '    name = "tufted-lamb"\n'
        '    namespace = "default"\n'
        "    wait = true\n"
        "    watch = false\n"
        "    watch-delay = 2\n"
        "    auto-connect = false\n"
        '    dockerfile = ""\n'
        '    chart = ""\n'
    )
    env = config.load(tmp_path)
    assert (env.name, env.watch, env.watch_delay) == ("tufted-lamb", False, 2)


def test_columns_count_characters_not_bytes():
    text = HEADER + '# café ☕\nname = "ok"\nimage_build_args = { "é" = "1", B = 2 }\n'
    diagnostic = only(text)
    # "2" is the 37th character of its line and the 38th byte: "é" takes two bytes.
    assert (diagnostic.range.start.line, diagnostic.range.start.character) == (3, 36)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"has no draft\.toml") as caught:
        config.load(tmp_path)
    assert "draft create" in caught.value.hint


def test_missing_environment_names_the_ones_defined(tmp_path: Path):
    (tmp_path / "draft.toml").write_text(config.render_new("tufted-lamb"))
    with pytest.raises(ConfigError, match=r"no environment 'staging'.*development"):
        config.load(tmp_path, "staging")


def test_environment_comes_from_draft_env_when_not_given(tmp_path: Path, monkeypatch):
    (tmp_path / "draft.toml").write_text(
        config.render_new("tufted-lamb")
        + '\n[environments.staging]\nname = "tufted-lamb-staging"\n'
    )
    monkeypatch.setenv("DRAFT_ENV", "staging")
    assert config.load(tmp_path).name == "tufted-lamb-staging"


def test_load_refuses_a_file_with_errors_and_says_where(tmp_path: Path):
    (tmp_path / "draft.toml").write_text(HEADER + 'name = "ok"\nwatch = "yes"\n')
    with pytest.raises(ConfigError, match=r"draft.toml:3:9: error: watch must be a boolean"):
        config.load(tmp_path)


def test_table_at_knows_which_environment_a_line_is_in():
    from draft import tomlpos

    text = HEADER + 'name = "a"\n\n[environments.staging]\nna'
    assert tomlpos.index(text).table_at(4) == ("environments", "staging")


TOMLISH = st.lists(
    st.sampled_from(
        [
            "[environments.development]", "[environments.", "[[environments]]", "name = ",
            '"tufted-lamb"', "watch = true", "watch-delay = ", "= 1", "{", "}", "[", "]", ",",
            '"', "'''", '"""', "\n", " ", "#", "é", "\x00", "set = [", "image_build_args = {",
            "1e400", "2026-11-24T00:00:00Z", "a.b.c = 1", "\ud800",
        ]
    ),
    max_size=40,
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), TOMLISH))
def test_parse_never_raises_on_arbitrary_text(text: str):
    parsed = config.parse(text)
    for diagnostic in parsed.diagnostics:
        assert diagnostic.range.start <= diagnostic.range.end
        assert diagnostic.message


def test_a_dotted_environment_header_alone_is_reported_not_raised():
    """`[environments.dev.x]` implies the environment `dev` without a header of its own."""
    found = {(d.code, d.range.start.line) for d in config.check("[environments.dev.x]\n")}
    assert found == {("unknown-key", 0), ("missing-key", 0)}
    missing = next(d for d in config.check("[environments.dev.x]\n") if d.code == "missing-key")
    assert missing.fix is None  # no `[environments.dev]` line to add the name under


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("[" * 5000 + "]" * 5000, id="array"),
        pytest.param("{ a = " * 5000 + "1" + " }" * 5000, id="inline-table"),
        pytest.param("[{ a = " * 2500 + "1" + " }]" * 2500, id="both"),
    ],
)
def test_deeply_nested_values_are_a_diagnostic_where_they_get_too_deep(value: str):
    text = HEADER + 'name = "ok"\nset = ' + value + "\n"
    (found,) = config.check(text)
    assert found.code == "too-deep" and found.severity is Severity.ERROR
    assert found.range.start.line == 2 and found.range.start.character > 64
    assert "64" in found.message


def test_nesting_within_the_limit_is_read_as_usual():
    text = HEADER + 'name = "ok"\nset = ' + "[" * 60 + "]" * 60 + "\n"
    (found,) = config.check(text)
    assert found.code == "invalid-set"  # a list of lists, not of strings: read, not refused


def test_a_dotted_key_of_thousands_of_parts_is_read():
    text = HEADER + 'name = "ok"\n' + ".".join(["a"] * 5000) + " = 1\n"
    (found,) = config.check(text)
    assert found.code == "unknown-key" and found.range.start.line == 2
