"""Where each key and value of a YAML document sits, for diagnostics with exact ranges.

ruamel.yaml's round-trip loader keeps the line and column of every mapping key
and value and of every sequence item; this module turns them into `Range`s by
key path, e.g. `("image", "tag")` or `("env", 0, "name")`. Columns count code
points on the line, as `draft.diagnostics` expects.

Whatever the text, parsing takes time and memory linear in its size. Aliases are the
one way YAML text can stand for much more data than it holds (a "billion laughs"
document of 1 KB expands to billions of values): the composer counts what each alias
expands to and refuses the document, at the alias that tips it, by the rule of
Helm's YAML library (go-yaml's "document contains excessive aliasing"), so Draft
refuses what Helm would. Nesting deeper than `MAX_DEPTH` is refused too.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent

from draft import limits
from draft.diagnostics import Range

KeyPath = tuple[str | int, ...]
MAX_DEPTH = 100
"""Mappings and sequences nested deeper than this are refused (Python's stack is not a limit
to meet by accident; a chart's values nest a dozen levels at most)."""
MAX_TOKEN = 512
"""How far along a line a key's or value's range is looked for: a long line costs its
length once, not once per key on it."""


@dataclass(frozen=True)
class YamlSyntaxError:
    message: str
    range: Range


@dataclass
class YamlDocument:
    """The parsed data (plain dicts and lists) and the ranges of its keys and values."""

    data: Any
    keys: dict[KeyPath, Range] = field(default_factory=dict)
    values: dict[KeyPath, Range] = field(default_factory=dict)
    error: YamlSyntaxError | None = None

    def key_range(self, path: KeyPath) -> Range | None:
        """The range of the deepest existing key on `path` (the parent when a key is missing)."""
        for end in range(len(path), 0, -1):
            found = self.keys.get(path[:end])
            if found is not None:
                return found
        return None

    def value_range(self, path: KeyPath) -> Range | None:
        return self.values.get(path) or self.key_range(path)

    def leaves(self) -> Iterator[tuple[KeyPath, Any]]:
        """Every scalar with its key path."""
        yield from _leaves(self.data, ())


def _allowed_alias_ratio(decoded: int) -> float:
    """go-yaml's allowance: 99% of the values may come from aliases up to 400,000 values,
    scaling down to 10% at 4,000,000 (yaml.v2 and v3 decode.go, which Helm reads YAML with)."""
    low, high = 400_000, 4_000_000
    if decoded <= low:
        return 0.99
    if decoded >= high:
        return 0.10
    return 0.99 - 0.89 * (decoded - low) / (high - low)


class _BoundedComposer(Composer):
    """ruamel's composer, counting the values the document stands for once every alias is
    expanded (what a walk of the loaded data visits) and refusing excessive aliasing."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False  # YAML allows redefining an anchor
        self.expanded = 0
        self.through_aliases = 0
        self.sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        limits.step()
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:  # an anchor still being composed (a cycle) counts once
                size = self.sizes.get(id(target), 1)
                self.expanded += size
                self.through_aliases += size
                self._check(event.start_mark)
            return super().compose_node(parent, index)
        before = self.expanded
        self.expanded += 1
        node = super().compose_node(parent, index)
        self.sizes[id(node)] = self.expanded - before
        return node

    def _check(self, mark: Any) -> None:
        decoded, aliased = self.expanded, self.through_aliases
        if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
            raise ComposerError(
                None, None,
                f"excessive aliasing: up to here, aliases stand for {aliased:,} of the "
                f"{decoded:,} values this document holds (Helm refuses such YAML too)",
                mark,
            )  # fmt: skip


def parse(text: str) -> YamlDocument:
    """Parse `text`; never raises: a syntax error is returned with its position."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH
    yaml.Composer = _BoundedComposer
    lines = text.splitlines()
    too_deep = _flow_too_deep(text)
    if too_deep is not None:
        problem = f"mappings and lists nested more than {MAX_DEPTH} deep"
        return YamlDocument(None, error=YamlSyntaxError(problem, _token_range(lines, *too_deep)))
    try:
        loaded = yaml.load(io.StringIO(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line if mark is not None else 0
        column = mark.column if mark is not None else 0
        problem = error.problem or error.context or "invalid YAML"
        if isinstance(error, MaxDepthExceededError):
            problem = f"mappings and lists nested more than {MAX_DEPTH} deep"
        return YamlDocument(None, error=YamlSyntaxError(problem, _token_range(lines, line, column)))
    except (YAMLError, ValueError, RecursionError) as error:
        problem = str(error) or "invalid YAML"
        return YamlDocument(None, error=YamlSyntaxError(problem, Range.of(0, 0)))
    except (AttributeError, TypeError, KeyError, IndexError) as error:
        # ruamel's own failures on odd input (a merge key refering to its own mapping)
        problem = f"invalid YAML: ruamel.yaml could not read it ({type(error).__name__})"
        return YamlDocument(None, error=YamlSyntaxError(problem, Range.of(0, 0)))
    document = YamlDocument(_plain(loaded))
    _index(loaded, (), lines, document)
    return document


def _flow_too_deep(text: str) -> tuple[int, int] | None:
    """Where `[` and `{` nest more than MAX_DEPTH deep, found in one pass before ruamel reads
    the text: its scanner looks ahead across every open bracket at each token, quadratic in
    the nesting (a few thousand `[` take seconds). Quoted text and comments are skipped;
    brackets inside plain scalars are counted, so this errs only on absurd text."""
    depth = 0
    line = column = 0
    quote = ""
    previous = "\n"
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char == "#" and previous in " \t\n":
            quote = "\n"  # a comment runs to the end of the line
        elif char in "'\"" and previous in " \t\n[{,:-?":  # a quote starting a scalar
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, column
        elif char in "]}":
            depth = max(depth - 1, 0)
        if char == "\n":
            line, column = line + 1, 0
            quote = "" if quote == "\n" else quote
        else:
            column += 1
        previous = char
    return None


def _plain(node: Any) -> Any:
    limits.step()
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _index(node: Any, path: KeyPath, lines: list[str], document: YamlDocument) -> None:
    limits.step()
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            child = (*path, str(key))
            key_pos = _position(node.lc.key, key)
            if key_pos is None:  # a key merged in (`<<: *base`) is where its mapping is
                _index(value, child, lines, document)
                continue
            key_line, key_col = key_pos
            document.keys[child] = _token_range(lines, key_line, key_col, until=":")
            value_pos = _position(node.lc.value, key)
            nested = isinstance(value, CommentedMap | CommentedSeq)
            # A block mapping or list starts on the next line: its key is the better place.
            if value_pos is not None and (not nested or value_pos[0] == key_line):
                document.values[child] = _token_range(lines, value_pos[0], value_pos[1])
            _index(value, child, lines, document)
    elif isinstance(node, CommentedSeq):
        for position, value in enumerate(node):
            child = (*path, position)
            item_pos = _position(node.lc.item, position)
            if item_pos is None:
                _index(value, child, lines, document)
                continue
            item = _token_range(lines, *item_pos)
            document.keys[child] = item
            if not isinstance(value, CommentedMap | CommentedSeq):
                document.values[child] = item
            _index(value, child, lines, document)


def _position(where: Any, key: Any) -> tuple[int, int] | None:
    """ruamel's line and column of a key, value or item; None for one merged in."""
    try:
        found = where(key)
    except (KeyError, IndexError, TypeError):
        return None
    return (found[0], found[1]) if found is not None else None


def _token_range(lines: list[str], line: int, column: int, until: str = "") -> Range:
    """From `column` to the end of the token: a key up to its colon, a value up to a comment."""
    text = lines[line] if 0 <= line < len(lines) else ""
    rest = text[column : column + MAX_TOKEN]
    end = len(rest)
    if until and until in rest:
        end = rest.index(until)
    elif " #" in rest:
        end = rest.index(" #")
    end = len(rest[:end].rstrip())
    return Range.of(line, column, line, column + max(end, 1) if rest else column)


def _leaves(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Any]]:
    limits.step()
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from _leaves(value, (*path, position))
    else:
        yield path, node
