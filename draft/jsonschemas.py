"""JSON Schema validation in bounded time: regular expressions by RE2, every keyword counted.

A chart's `values.schema.json` is user input, and Python's `re` backtracks: a `pattern`
like `^(a+)+$` takes minutes on a 40-character value. Helm validates values with Go's
`regexp`, which is RE2: linear in the text, and without backreferences or lookaround.
So `draft check` matches every schema regular expression with RE2 (google-re2, pinned in
pyproject.toml for this): the same answers as Helm, in linear time, and a pattern Helm
could not compile is reported as such instead of being tried.

jsonschema calls `re.search` from three of its modules (for `pattern`,
`patternProperties`, and `additionalProperties`/`unevaluatedProperties`, which look at
`patternProperties`); `install` points them at RE2's search. jsonschema is pinned, and
tests/hostile/test_fuzz_parsers.py fails if a release moves those calls.

Every keyword of a validation also spends a step of the check's budget
(`draft.limits`), so a schema whose `anyOf`s multiply the work ends in a `too-complex`
diagnostic, not a hang.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import jsonschema
import jsonschema._keywords
import jsonschema._legacy_keywords
import jsonschema._utils
import re2

from draft import limits

KEYWORD_STEPS = 4
"""A keyword costs jsonschema about as much as four YAML values cost the parser."""


class PatternRefused(ValueError):
    """A schema regular expression RE2 (and so Helm) cannot compile."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"pattern {pattern!r} is not a regular expression Helm accepts: {reason}")
        self.pattern = pattern


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported as a diagnostic, not on stderr


@functools.lru_cache(maxsize=1024)
def compiled(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else str(error)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise PatternRefused(pattern, str(reason)) from None


def search(pattern: Any, string: Any, flags: int = 0) -> Any:
    """`re.search`, in linear time for the string patterns of a schema."""
    if flags or not isinstance(pattern, str) or not isinstance(string, str):
        return re.search(pattern, string, flags)
    limits.step(len(string) // 64 + 1)
    return compiled(pattern).search(string)


class _LinearRe(ModuleType):
    """What jsonschema's keyword modules see as `re`: RE2's search, the rest is `re`'s."""

    search = staticmethod(search)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


_PATCHED = (jsonschema._keywords, jsonschema._legacy_keywords, jsonschema._utils)


def install() -> None:
    """Make jsonschema match `pattern` and `patternProperties` with RE2 (idempotent)."""
    linear = _LinearRe("re")
    for module in _PATCHED:
        if getattr(module, "re", None) is not re and not isinstance(module.re, _LinearRe):
            raise RuntimeError(f"{module.__name__} no longer uses `re`: update draft.jsonschemas")
        module.re = linear  # type: ignore[attr-defined]


_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose values are data, not schemas: a `pattern` inside them is not one."""


def patterns(schema: Any) -> Iterator[tuple[list[str | int], str]]:
    """Every regular expression of a schema (`pattern` values, `patternProperties` keys)
    with the path to it, without recursion."""
    pending: list[tuple[list[str | int], Any]] = [([], schema)]
    while pending:
        path, node = pending.pop()
        limits.step()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                yield [*path, "pattern"], node["pattern"]
            inner = node.get("patternProperties")
            if isinstance(inner, dict):
                for key in inner:
                    yield [*path, "patternProperties", key], key
            inside: list[tuple[str | int, Any]] = [
                (k, v) for k, v in node.items() if k not in _DATA_KEYWORDS
            ]
        elif isinstance(node, list):
            inside = list(enumerate(node))
        else:
            continue
        pending.extend(([*path, k], v) for k, v in inside if isinstance(v, dict | list))


def refused_patterns(schema: Any) -> Iterator[tuple[list[str | int], PatternRefused]]:
    """The schema's regular expressions that Helm could not compile."""
    for path, pattern in patterns(schema):
        try:
            compiled(pattern)
        except PatternRefused as refused:
            yield path, refused


def _counted(function: Callable[..., Any]) -> Callable[..., Any]:
    def keyword(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        limits.step(KEYWORD_STEPS)
        return function(validator, value, instance, schema)

    return keyword


@functools.cache
def bounded(cls: type[Any]) -> type[Any]:
    """`cls` with every keyword spending a step of the check's budget."""
    counted = {name: _counted(function) for name, function in cls.VALIDATORS.items()}
    return jsonschema.validators.extend(cls, counted)  # type: ignore[no-untyped-call,no-any-return]


def validator(schema: dict[str, Any]) -> Any:
    """A validator of `schema` (draft-07 unless it says), bounded and with linear regexps."""
    install()
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return bounded(cls)(schema)
