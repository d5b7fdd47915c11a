"""Where every key and value of a TOML document is, even while it is half-typed.

tomllib is the authority on what a document means but reports no positions;
tree-sitter's TOML grammar parses the same text error-tolerantly into a tree
with exact spans. This module indexes that tree by key path, so a check that
finds something wrong in tomllib's data can point at the key or value in the
text, and the language server can tell which table the cursor is in.

Whatever the text, indexing takes time and memory linear in its size: the tree is
walked without recursion, arrays and inline tables nested deeper than `MAX_DEPTH`
are not indexed (the first such place is `TomlIndex.too_deep`, which the checks
report instead of handing the text to tomllib, whose parser recurses), and
columns are converted once per line.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

import tree_sitter
import tree_sitter_toml

from draft import limits
from draft.diagnostics import Position, Range

KeyPath = tuple[str, ...]
MAX_DEPTH = 64
"""Arrays and inline tables nested deeper than this are refused: draft.toml and
.draft-tasks.toml need three or four levels; tomllib recurses, Python's stack does not."""

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
    too_deep: Range | None = None
    """The first array or inline table nested deeper than `MAX_DEPTH`, if any."""
    _implied: dict[KeyPath, Entry] | None = field(default=None, repr=False, compare=False)

    def key_range(self, path: KeyPath) -> Range | None:
        """The key's span; for a table only implied by a dotted key, that whole key's."""
        entry = self.entries.get(path) or self._first_under(path)
        return entry.key if entry else None

    def _first_under(self, path: KeyPath) -> Entry | None:
        """The first entry under `path`, from an index of every prefix built once (a lookup
        per unknown key must not walk every entry: that is quadratic in the file)."""
        if self._implied is None:
            implied: dict[KeyPath, Entry] = {}
            for entry in self.entries.values():
                for end in range(1, min(len(entry.path), MAX_DEPTH + 2)):
                    prefix = entry.path[:end]
                    known = implied.get(prefix)
                    if known is None or entry.key.start < known.key.start:
                        implied[prefix] = entry
            self._implied = implied
        return self._implied.get(path)

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
    """Converts tree-sitter's UTF-8 byte columns to code-point columns.

    A line of ASCII needs no conversion; another line's byte-to-code-point table is built
    the first time a position on it is asked for, so a long line costs its length once,
    not once per key on it.
    """

    def __init__(self, data: bytes) -> None:
        self.lines = data.split(b"\n")
        self._columns: dict[int, list[int] | None] = {}

    def position(self, point: tree_sitter.Point) -> Position:
        row, column = point.row, point.column
        if row >= len(self.lines):
            return Position(row, 0)
        if row not in self._columns:
            self._columns[row] = _code_point_columns(self.lines[row])
        table = self._columns[row]
        if table is None:
            return Position(row, column)
        return Position(row, table[min(column, len(table) - 1)])

    def span(self, node: tree_sitter.Node) -> Range:
        return Range(self.position(node.start_point), self.position(node.end_point))


def _code_point_columns(line: bytes) -> list[int] | None:
    """For each byte offset of `line` (and its end), the code points before it; None for
    ASCII, where the two are equal."""
    if line.isascii():
        return None
    table = [0] * (len(line) + 1)
    count = 0
    for offset, byte in enumerate(line):
        table[offset] = count
        if byte & 0xC0 != 0x80:  # not a continuation byte: a code point starts here
            count += 1
    table[len(line)] = count
    return table


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


def _key_parts(node: tree_sitter.Node) -> KeyPath:
    """`a."b".c` as ("a", "b", "c"). The grammar nests a dotted key's prefix in another
    dotted key, one level per dot: walked without recursion."""
    parts: list[str] = []
    pending = [node]
    while pending:
        part = pending.pop()
        if part.type == "dotted_key":
            pending.extend(reversed(part.named_children))
        else:
            parts.append(_simple_key(part))
    return tuple(parts)


def _simple_key(node: tree_sitter.Node) -> str:
    raw = (node.text or b"").decode("utf-8", errors="replace")
    if node.type == "quoted_key":
        try:
            return str(tomllib.loads(f"k = {raw}")["k"])
        except (tomllib.TOMLDecodeError, KeyError):
            return raw.strip("\"'")
    return raw


def _first(node: tree_sitter.Node, types: set[str]) -> tree_sitter.Node | None:
    return next((c for c in node.children if c.type in types), None)


class _Indexer:
    def __init__(self, data: bytes) -> None:
        self.text = _Text(data)
        self.index = TomlIndex()
        self.array_tables: dict[KeyPath, int] = {}

    def add(self, entry: Entry) -> None:
        limits.step(len(entry.path))
        if entry.path in self.index.entries:
            self.index.duplicates.append(entry)
        else:
            self.index.entries[entry.path] = entry

    def pair(self, node: tree_sitter.Node, prefix: KeyPath) -> None:
        """A `key = value` pair, and what nests in its value, without recursion."""
        pending: list[tuple[tree_sitter.Node, KeyPath, int]] = [(node, prefix, 0)]
        while pending:
            pair, base, depth = pending.pop()
            key = _first(pair, _KEY_NODES)
            if key is None:
                continue
            path = base + _key_parts(key)
            value = _first(pair, _VALUE_NODES)
            span = self.text.span(value) if value is not None else None
            self.add(Entry(path, self.text.span(key), span))
            if value is not None:
                pending.extend(reversed(self.nested(value, path, depth)))

    def nested(
        self, value: tree_sitter.Node, path: KeyPath, depth: int
    ) -> list[tuple[tree_sitter.Node, KeyPath, int]]:
        """Index array elements by position; the pairs of inline tables, to index next."""
        pairs: list[tuple[tree_sitter.Node, KeyPath, int]] = []
        pending = [(value, path, depth)]
        while pending:
            node, at, level = pending.pop()
            if node.type not in ("inline_table", "array"):
                continue
            if level >= MAX_DEPTH:
                if self.index.too_deep is None:
                    self.index.too_deep = self.text.span(node)
                continue
            if node.type == "inline_table":
                pairs += [(c, at, level + 1) for c in node.named_children if c.type == "pair"]
                continue
            elements = [c for c in node.named_children if c.type in _VALUE_NODES]
            inner = []
            for number, element in enumerate(elements):
                span = self.text.span(element)
                self.add(Entry((*at, str(number)), span, span))
                inner.append((element, (*at, str(number)), level + 1))
            pending.extend(reversed(inner))
        return pairs

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


def _error_spans(root: tree_sitter.Node, text: _Text) -> list[Range]:
    """The outermost ERROR and missing nodes, in document order (without recursion)."""
    found: list[Range] = []
    pending = [root]
    while pending:
        node = pending.pop()
        if node.type == "ERROR" or node.is_missing:
            found.append(text.span(node))
            continue
        pending.extend(c for c in reversed(node.children) if c.has_error or c.is_missing)
    return found
