"""Draft's diagnostics and edits in LSP's types, and back."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from draft.diagnostics import Diagnostic, Fix, Range

SOURCE = "draft"


def lsp_range(where: Range) -> types.Range:
    return types.Range(
        start=types.Position(line=where.start.line, character=where.start.character),
        end=types.Position(line=where.end.line, character=where.end.character),
    )


def lsp_diagnostic(diagnostic: Diagnostic) -> types.Diagnostic:
    data: dict[str, Any] | None = None
    if diagnostic.fix is not None:
        fix = diagnostic.fix
        data = {
            "fix": {
                "title": fix.title,
                "newText": fix.new_text,
                "range": [
                    fix.range.start.line, fix.range.start.character,
                    fix.range.end.line, fix.range.end.character,
                ],
            }
        }  # fmt: skip
    return types.Diagnostic(
        range=lsp_range(diagnostic.range),
        message=diagnostic.message,
        severity=types.DiagnosticSeverity(int(diagnostic.severity)),
        code=diagnostic.code,
        source=SOURCE,
        data=data,
    )


def fix_of(diagnostic: types.Diagnostic) -> Fix | None:
    """The certain fix a published diagnostic carries (see `lsp_diagnostic`), if any."""
    data = diagnostic.data
    if not isinstance(data, dict) or not isinstance(data.get("fix"), dict):
        return None
    fix = data["fix"]
    try:
        line, character, end_line, end = (int(n) for n in fix["range"])
        return Fix(str(fix["title"]), Range.of(line, character, end_line, end), str(fix["newText"]))
    except (KeyError, TypeError, ValueError):
        return None
