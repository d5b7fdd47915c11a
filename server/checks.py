"""Diagnostics: every Draft file checked on open and on change (debounced, on the unsaved
text, in a worker thread), pushed — or answered when the client pulls them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from draft import chart, config, release, tasks
from draft.diagnostics import Diagnostic, Range, Severity
from server.convert import lsp_diagnostic
from server.draft_files import Kind, chart_dir_of, kind_of, path_of
from server.state import DraftServer

DEBOUNCE = 0.15
MAX_TEXT = 2_000_000


def diagnose(path: Path, text: str) -> list[Diagnostic]:
    """Draft's findings for one document's current text; never raises."""
    if len(text) > MAX_TEXT:
        return [
            Diagnostic(path, Range.of(0, 0), Severity.INFORMATION, "too-large",
                       "This file is too large for Draft to check as you type.")
        ]  # fmt: skip
    if "\x00" in text:
        return []
    kind = kind_of(path)
    try:
        if kind is Kind.DRAFT_TOML:
            return list(config.parse(text, path).diagnostics)
        if kind is Kind.TASKS:
            return list(tasks.parse(text, path).diagnostics)
        chart_dir = chart_dir_of(path, kind)
        if chart_dir is None:
            return []
        if kind is Kind.VALUES_SCHEMA:
            return chart.check_schema_file(text, path)
        if kind is Kind.CHART_YAML:
            return chart.check_chart_yaml(text, path)
        if kind is Kind.VALUES:
            name, namespace, extra = release.check_context(chart_dir)
            found = chart.check_values(
                chart_dir, release=name, namespace=namespace, extra_values=extra, values_text=text
            )
            return [d for d in found if d.path == path]
    except Exception as error:  # a bug in a check must not take the server down
        return [
            Diagnostic(path, Range.of(0, 0), Severity.WARNING, "internal",
                       f"Draft could not check this file: {type(error).__name__}: {error}")
        ]  # fmt: skip
    return []


def register(server: DraftServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DraftServer, params: types.DidOpenTextDocumentParams) -> None:
        schedule(ls, params.text_document.uri, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DraftServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        schedule(ls, uri)
        path = path_of(uri)
        if path is not None and kind_of(path) is Kind.TEMPLATE:
            values = (path.parent.parent / chart.VALUES_FILE).as_uri()
            if values in ls.workspace.text_documents:
                schedule(ls, values)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DraftServer, params: types.DidCloseTextDocumentParams) -> None:
        task = ls.checks.pop(params.text_document.uri, None)
        if task is not None:
            task.cancel()
        if not ls.pulls_diagnostics:
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
            )

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(inter_file_dependencies=True, workspace_diagnostics=False),
    )
    async def pull(
        ls: DraftServer, params: types.DocumentDiagnosticParams
    ) -> types.DocumentDiagnosticReport:
        found = await check(ls, params.text_document.uri)
        return types.RelatedFullDocumentDiagnosticReport(items=found or [])


async def check(ls: DraftServer, uri: str) -> list[types.Diagnostic] | None:
    path = path_of(uri)
    if path is None:
        return None
    document = ls.workspace.get_text_document(uri)
    text = document.source
    found = await asyncio.to_thread(diagnose, path, text)
    return [lsp_diagnostic(d) for d in found]


def schedule(ls: DraftServer, uri: str, delay: float = DEBOUNCE) -> None:
    """Check `uri` after `delay` of quiet; a newer change restarts the wait."""
    if ls.pulls_diagnostics:
        return
    previous = ls.checks.pop(uri, None)
    if previous is not None:
        previous.cancel()
    ls.checks[uri] = asyncio.ensure_future(_publish_later(ls, uri, delay))


async def _publish_later(ls: DraftServer, uri: str, delay: float) -> None:
    if delay:
        await asyncio.sleep(delay)
    document = ls.workspace.get_text_document(uri)
    version = document.version
    found = await check(ls, uri)
    if found is None or ls.workspace.get_text_document(uri).version != version:
        return  # the document changed meanwhile: a newer check is scheduled
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version)
    )
