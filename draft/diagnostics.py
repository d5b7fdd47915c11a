"""One diagnostics model for every check Draft runs.

The CLI prints these compiler-style and the language server maps them to LSP
diagnostics one to one, so positions follow LSP's convention: zero-based lines
and columns, the end exclusive. Columns count Unicode code points; the language
server converts them to the encoding its client negotiated.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict


class Severity(enum.IntEnum):
    """Values equal LSP's DiagnosticSeverity, so the server passes them through."""

    ERROR = 1
    WARNING = 2
    INFORMATION = 3
    HINT = 4

    @property
    def label(self) -> str:
        return {1: "error", 2: "warning", 3: "info", 4: "hint"}[self.value]


@dataclass(frozen=True, order=True)
class Position:
    line: int
    character: int


@dataclass(frozen=True, order=True)
class Range:
    start: Position
    end: Position

    @classmethod
    def of(
        cls, line: int, start: int, end_line: int | None = None, end: int | None = None
    ) -> Range:
        """A range on one line (or across lines), zero-based."""
        end_line = line if end_line is None else end_line
        end = start if end is None else end
        return cls(Position(line, start), Position(end_line, end))


@dataclass(frozen=True)
class Fix:
    """An edit that certainly fixes its diagnostic: replace `range` with `new_text`."""

    title: str
    range: Range
    new_text: str


@dataclass(frozen=True)
class Diagnostic:
    path: Path
    range: Range
    severity: Severity
    code: str
    message: str
    fix: Fix | None = None

    def format(self, relative_to: Path | None = None) -> str:
        """`path:line:col: severity: message [code]`, one-based like compilers print."""
        shown = self.path
        if relative_to is not None:
            try:
                shown = self.path.relative_to(relative_to)
            except ValueError:
                shown = self.path
        start = self.range.start
        return (
            f"{shown}:{start.line + 1}:{start.character + 1}: "
            f"{self.severity.label}: {self.message} [{self.code}]"
        )

    def to_json(self) -> DiagnosticJSON:
        def pos(p: Position) -> PositionJSON:
            return {"line": p.line + 1, "column": p.character + 1}

        out: DiagnosticJSON = {
            "path": str(self.path),
            "start": pos(self.range.start),
            "end": pos(self.range.end),
            "severity": self.severity.label,
            "code": self.code,
            "message": self.message,
        }
        if self.fix is not None:
            out["fix"] = {"title": self.fix.title, "newText": self.fix.new_text}
        return out


class PositionJSON(TypedDict):
    line: int
    column: int


class FixJSON(TypedDict):
    title: str
    newText: str


class DiagnosticJSON(TypedDict, total=False):
    path: str
    start: PositionJSON
    end: PositionJSON
    severity: str
    code: str
    message: str
    fix: FixJSON


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, Position, str]:
    return (str(d.path), d.range.start, d.code)
