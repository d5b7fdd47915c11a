"""Diagnostics: every Draft file checked on open and on change (debounced, on the unsaved
text, in a worker thread), pushed — or answered when the client pulls them.

Checks run on a pool of `WORKERS` threads of their own, at most one per document: a
check asked for while an older one of the same document runs cancels the older (it stops
at its next step, `draft.limits`) and starts when that one has let go of its thread; of
several waiting, only the newest runs. So typing never piles up checker threads, and
hover, completion and deploys (on asyncio's default threads) never wait behind checks.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified

from draft import chart, config, dockerfile, limits, release, tasks
from draft.diagnostics import Diagnostic, Range, Severity
from draft.errors import ConfigError
from server.convert import lsp_diagnostic
from server.draft_files import Kind, app_root_of, chart_dir_of, kind_of, path_of
from server.state import DraftServer

DEBOUNCE = 0.15
MAX_TEXT = 2_000_000
WORKERS = 2
_POOL = ThreadPoolExecutor(WORKERS, thread_name_prefix="draft-check")


def diagnose(path: Path, text: str, cancel: threading.Event | None = None) -> list[Diagnostic]:
    """Draft's findings for one document's current text; never raises but `limits.Cancelled`
    once `cancel` is set."""
    with limits.bounded(len(text), cancel):
        return _diagnose(path, text)


def _diagnose(path: Path, text: str) -> list[Diagnostic]:
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
        if kind is Kind.DOCKERFILE:
            return _dockerfile(path, text)
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
    except limits.Cancelled:
        raise
    except Exception as error:  # a bug in a check must not take the server down
        return [
            Diagnostic(path, Range.of(0, 0), Severity.WARNING, "internal",
                       f"Draft could not check this file: {type(error).__name__}: {error}")
        ]  # fmt: skip
    return []


def _dockerfile(path: Path, text: str) -> list[Diagnostic]:
    """Where the app's Dockerfile will be refused by the cluster its chart deploys to."""
    root = app_root_of(path.parent)
    if root is None:
        return []
    chart_dir = root / "chart"
    try:
        environments = list(config.read(root).environments.values())
    except ConfigError:
        environments = []  # draft.toml's own diagnostics say why
    for env in environments:
        if (root / env.dockerfile).resolve() == path.resolve():
            chart_dir = root / env.chart
            break
    if not (chart_dir / "Chart.yaml").is_file():
        return []
    name, namespace, extra = release.check_context(chart_dir)
    facts = dockerfile.chart_facts(chart_dir, release=name, namespace=namespace, extra_values=extra)
    return dockerfile.check(path, text, facts)


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
        running = ls.checks_running.get(params.text_document.uri)
        if running is not None:
            running.cancel.set()
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
        try:
            found = await check(ls, params.text_document.uri)
        except Superseded:
            raise JsonRpcContentModified("the document changed: a newer check runs") from None
        return types.RelatedFullDocumentDiagnosticReport(items=found or [])


class Superseded(Exception):
    """A newer check of the same document was asked for: this one's answer is not wanted."""


@dataclass
class Running:
    """The check that holds a document's thread."""

    done: asyncio.Future[list[Diagnostic]]
    cancel: threading.Event


async def check(ls: DraftServer, uri: str) -> list[types.Diagnostic] | None:
    """The document's diagnostics (None when it is no Draft file); `Superseded` when a newer
    check of it was asked for before this one finished."""
    path = path_of(uri)
    if path is None:
        return None
    ticket = ls.check_tickets[uri] = ls.check_tickets.get(uri, 0) + 1
    running = ls.checks_running.get(uri)
    if running is not None and not running.done.done():
        running.cancel.set()
        await asyncio.wait([running.done])  # its thread is free once it has stopped
    if ls.check_tickets.get(uri) != ticket:
        raise Superseded
    text = ls.workspace.get_text_document(uri).source
    cancel = threading.Event()
    context = contextvars.copy_context()
    done = asyncio.get_running_loop().run_in_executor(
        _POOL, context.run, diagnose, path, text, cancel
    )
    ls.checks_running[uri] = Running(done, cancel)

    def let_go(_: object) -> None:  # when the thread is free, not when we stop waiting
        if (held := ls.checks_running.get(uri)) is not None and held.done is done:
            del ls.checks_running[uri]
        if not done.cancelled():
            done.exception()  # retrieved: a cancelled check nobody awaited is no error

    done.add_done_callback(let_go)
    try:
        found = await asyncio.shield(done)
    except limits.Cancelled:
        raise Superseded from None
    except asyncio.CancelledError:
        cancel.set()  # nobody waits for it any more: let it stop early
        raise
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
    try:
        found = await check(ls, uri)
    except Superseded:
        return
    if found is None or ls.workspace.get_text_document(uri).version != version:
        return  # the document changed meanwhile: a newer check is scheduled
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version)
    )
