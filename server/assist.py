"""Completion and hover for draft.toml and values.yaml (the answers come from draft.assist)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lsprotocol import types

from draft import assist
from server.draft_files import Kind, chart_dir_of, kind_of, path_of
from server.state import DraftServer

T = TypeVar("T")


async def _ask(
    ls: DraftServer,
    params: types.CompletionParams | types.HoverParams,
    in_toml: Callable[[str, int, int], T],
    in_values: Callable[[Path, str, int], T],
) -> T | None:
    """What draft.toml's or values.yaml's answer is at the position; None in other files.

    values.yaml's answers read the chart's schema from disk, so they run in a thread.
    """
    path = path_of(params.text_document.uri)
    if path is None:
        return None
    text = ls.workspace.get_text_document(params.text_document.uri).source
    line, character = params.position.line, params.position.character
    kind = kind_of(path)
    if kind is Kind.DRAFT_TOML:
        return in_toml(text, line, character)
    chart_dir = chart_dir_of(path, kind)
    if kind is Kind.VALUES and chart_dir is not None:
        return await asyncio.to_thread(in_values, chart_dir, text, line)
    return None


def register(server: DraftServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["=", " "])
    )
    async def completion(
        ls: DraftServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        found = await _ask(ls, params, assist.toml_completions, assist.values_completions)
        if found is None:
            return None
        return types.CompletionList(
            is_incomplete=False,
            items=[
                types.CompletionItem(
                    label=s.label,
                    kind=types.CompletionItemKind.Property
                    if s.kind == "key"
                    else types.CompletionItemKind.Value,
                    detail=s.detail,
                    documentation=types.MarkupContent(
                        kind=types.MarkupKind.Markdown, value=s.documentation
                    ),
                    insert_text=s.insert_text,
                )
                for s in found
            ],
        )

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: DraftServer, params: types.HoverParams) -> types.Hover | None:
        found = await _ask(ls, params, assist.toml_hover, assist.values_hover)
        if found is None:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=found.markdown)
        )
