"""Where every key and value of a TOML document is, even while it is half-typed.

tomllib is the authority on what a document means but reports no positions;
tree-sitter's TOML grammar parses the same text error-tolerantly into a tree
with exact spans. This module indexes that tree by key path, so a check that
finds something wrong in tomllib's data can point at the key or value in the
text, and the language server can tell which table the cursor is in.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

import tree_sitter
import tree_sitter_toml

from draft.diagnostics import Position, Range

KeyPath = tuple[str, ...]

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_toml.language()))
_KEY_NODES = {"bare_key", "quoted_key", "dotted_key"}
_VALUE_NODES = {
    "string",
    "integer",
    "float",
    "boolean",
    "array",
    "inline_table",
    "offset_date_time",
    "local_date_time",
    "local_date",
    "local_time",
}


@dataclass(frozen=True)
class Entry:
    """One `key = value` pair, or a `[table]` header (then `value` is None)."""

    path: KeyPath
    key: Range
    value: Range | None


@dataclass
class TomlIndex:
    entries: dict[KeyPath, Entry] = field(default_factory=dict)
    duplicates: list[Entry] = field(default_factory=list)
    """Second and later definitions of a path, in document order."""
    errors: list[Range] = field(default_factory=list)
    """Spans tree-sitter could not parse."""
    tables: list[Entry] = field(default_factory=list)
    """`[table]` headers in document order."""

    def key_range(self, path: KeyPath) -> Range | None:
        """The key's span; for a table only implied by a dotted key, that whole key's."""
        entry = self.entries.get(path) or self._first_under(path)
        return entry.key if entry else None

    def _first_under(self, path: KeyPath) -> Entry | None:
        under = (e for e in self.entries.values() if e.path[: len(path)] == path)
        return min(under, key=lambda e: e.key.start, default=None)

    def value_range(self, path: KeyPath) -> Range | None:
        entry = self.entries.get(path)
        if entry is None:
            return None
        return entry.value or entry.key

    def table_at(self, line: int) -> KeyPath:
        """The table a line belongs to: the last header at or above it."""
        current: KeyPath = ()
        for table in self.tables:
            if table.key.start.line <= line:
                current = table.path
        return current


class _Text:
    """Converts tree-sitter's UTF-8 byte columns to code-point columns."""

    def __init__(self, data: bytes) -> None:
        self.lines = data.split(b"\n")

    def position(self, point: tree_sitter.Point) -> Position:
        row, column = point.row, point.column
        if row >= len(self.lines):
            return Position(row, 0)
        prefix = self.lines[row][:column]
        return Position(row, len(prefix.decode("utf-8", errors="replace")))

    def span(self, node: tree_sitter.Node) -> Range:
        return Range(self.position(node.start_point), self.position(node.end_point))


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


def _key_parts(node: tree_sitter.Node) -> KeyPath:
    if node.type == "dotted_key":
        parts: KeyPath = ()
        for child in node.named_children:
            parts += _key_parts(child)
        return parts
    raw = (node.text or b"").decode("utf-8", errors="replace")
    if node.type == "quoted_key":
        try:
            return (str(tomllib.loads(f"k = {raw}")["k"]),)
        except (tomllib.TOMLDecodeError, KeyError):
            return (raw.strip("\"'"),)
    return (raw,)


def _first(node: tree_sitter.Node, types: set[str]) -> tree_sitter.Node | None:
    return next((c for c in node.children if c.type in types), None)


class _Indexer:
    def __init__(self, data: bytes) -> None:
        self.text = _Text(data)
        self.index = TomlIndex()
        self.array_tables: dict[KeyPath, int] = {}

    def add(self, entry: Entry) -> None:
        if entry.path in self.index.entries:
            self.index.duplicates.append(entry)
        else:
            self.index.entries[entry.path] = entry

    def pair(self, node: tree_sitter.Node, prefix: KeyPath) -> None:
        key = _first(node, _KEY_NODES)
        if key is None:
            return
        path = prefix + _key_parts(key)
        value = _first(node, _VALUE_NODES)
        span = self.text.span(value) if value is not None else None
        self.add(Entry(path, self.text.span(key), span))
        if value is not None:
            self.nested(value, path)

    def nested(self, value: tree_sitter.Node, path: KeyPath) -> None:
        """Index inline tables' pairs by key and array elements by position."""
        if value.type == "inline_table":
            for child in value.named_children:
                if child.type == "pair":
                    self.pair(child, path)
        elif value.type == "array":
            elements = [c for c in value.named_children if c.type in _VALUE_NODES]
            for number, element in enumerate(elements):
                span = self.text.span(element)
                self.add(Entry((*path, str(number)), span, span))
                self.nested(element, (*path, str(number)))

    def table(self, node: tree_sitter.Node) -> None:
        key = _first(node, _KEY_NODES)
        if key is None:
            return
        path = _key_parts(key)
        if node.type == "table_array_element":
            count = self.array_tables.get(path, 0)
            self.array_tables[path] = count + 1
            path = (*path, str(count))
        header = Entry(path, self.text.span(key), None)
        self.index.tables.append(header)
        if node.type == "table":
            self.add(header)
        for child in node.named_children:
            self.visit(child, path)

    def visit(self, node: tree_sitter.Node, prefix: KeyPath) -> None:
        if node.type == "pair":
            self.pair(node, prefix)
        elif node.type in ("table", "table_array_element"):
            self.table(node)
        elif node.type == "ERROR" or node.is_missing:
            self.index.errors.append(self.text.span(node))
            for child in node.named_children:
                self.visit(child, prefix)


def index(text: str) -> TomlIndex:
    """Index every key of `text`; never raises, whatever the text."""
    data = encode(text)
    indexer = _Indexer(data)
    tree = _PARSER.parse(data)
    for child in tree.root_node.children:
        indexer.visit(child, ())
    if tree.root_node.has_error and not indexer.index.errors:
        indexer.index.errors.extend(_error_spans(tree.root_node, indexer.text))
    return indexer.index


def _error_spans(node: tree_sitter.Node, text: _Text) -> list[Range]:
    if node.type == "ERROR" or node.is_missing:
        return [text.span(node)]
    found: list[Range] = []
    for child in node.children:
        if child.has_error or child.is_missing:
            found.extend(_error_spans(child, text))
    return found
