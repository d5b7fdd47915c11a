"""Completion and hover for draft.toml and values.yaml (the answers come from draft.assist)."""

from __future__ import annotations

import asyncio

from lsprotocol import types

from draft import assist
from server.documents import Kind, chart_dir_of, kind_of, path_of
from server.state import DraftServer


def register(server: DraftServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["=", " "])
    )
    async def completion(
        ls: DraftServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        path = path_of(params.text_document.uri)
        if path is None:
            return None
        text = ls.workspace.get_text_document(params.text_document.uri).source
        line, character = params.position.line, params.position.character
        kind = kind_of(path)
        if kind is Kind.DRAFT_TOML:
            found = assist.toml_completions(text, line, character)
        elif kind is Kind.VALUES:
            chart_dir = chart_dir_of(path, kind)
            assert chart_dir is not None
            found = await asyncio.to_thread(assist.values_completions, chart_dir, text, line)
        else:
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
        path = path_of(params.text_document.uri)
        if path is None:
            return None
        text = ls.workspace.get_text_document(params.text_document.uri).source
        line, character = params.position.line, params.position.character
        kind = kind_of(path)
        if kind is Kind.DRAFT_TOML:
            found = assist.toml_hover(text, line, character)
        elif kind is Kind.VALUES:
            chart_dir = chart_dir_of(path, kind)
            assert chart_dir is not None
            found = await asyncio.to_thread(assist.values_hover, chart_dir, text, line)
        else:
            return None
        if found is None:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=found.markdown)
        )
