"""draft-ls latencies and memory, measured over stdio like an editor sees them.

    .venv/bin/python bench/bench_lsp.py [--edits 200]

- didChange → publishDiagnostics for the python pack's values.yaml and draft.toml (the
  server's 150 ms debounce is subtracted: it is a choice, not a cost), p50/p95;
- completion in draft.toml and values.yaml, and code actions, p50/p95;
- the server's resident memory after opening examples/python's files and the edits; the
  resident memory of its Helm helper process then (it renders values.yaml); and of both
  once the server has idled past the helper's idle exit (DRAFT_HELPER_IDLE, 10 s).

Targets: diagnostics p95 <= 30 ms, completion p95 <= 20 ms, memory <= 120 MB.
Writes bench/results/lsp.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from draft import packs, scaffold
from draft.helper_process import IDLE_EXIT as HELPER_IDLE
from server.checks import DEBOUNCE

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "lsp.json"


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = [int(line.split()[1]) for line in status.splitlines() if "VmRSS" in line]
        total_kb += sum(rss)  # none for a helper that has left but is not reaped yet
    return round(total_kb / 1024, 1)


def children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found = [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]
    return found


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


async def main(edits: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="draft-bench-lsp-"))
    shutil.copytree(REPO / "examples" / "python", folder, dirs_exist_ok=True)
    scaffold.create(folder, packs.find_pack("python"), "bench-app")
    client = LanguageClient("draft-bench", "1")
    published: dict[str, asyncio.Event] = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        event = published.get(params.uri)
        if event is not None:
            event.set()

    await client.start_io(sys.executable, "-m", "server")
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=folder.as_uri(),
            initialization_options={"draft": {"deployOnSave": False}},
        )
    )
    client.initialized(types.InitializedParams())

    def open_doc(path: Path, language: str) -> str:
        uri = path.as_uri()
        published[uri] = asyncio.Event()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language, version=1, text=path.read_text()
                )
            )
        )
        return uri

    values = folder / "chart" / "values.yaml"
    toml = folder / "draft.toml"
    uris = {values.name: open_doc(values, "yaml"), toml.name: open_doc(toml, "toml")}
    open_doc(folder / "app.py", "python")
    for event in published.values():
        await asyncio.wait_for(event.wait(), 30)

    results: dict[str, Any] = {}
    server = client._server
    pid = server.pid if server else 0
    memory: dict[str, float] = {}
    version = 1
    cases = (
        ("values.yaml, comment edits", values, lambda base, n: base + f"\n# edit {n}\n"),
        (
            "values.yaml, value edits",
            values,
            lambda base, n: base.replace("replicaCount: 1", f"replicaCount: {n}"),
        ),
        ("draft.toml", toml, lambda base, n: base + f"\n# edit {n}\n"),
    )
    for name, path, edit in cases:
        uri, base = uris[path.name], path.read_text()
        samples = []
        for _ in range(edits):
            version += 1
            text = edit(base, version)
            published[uri].clear()
            started = time.perf_counter()
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )
            await asyncio.wait_for(published[uri].wait(), 30)
            samples.append(time.perf_counter() - started - DEBOUNCE)
        results[f"diagnostics {name}"] = percentiles(samples)
        if path == values:  # the helper rendering values.yaml is there now
            memory = {"helpers_rss_mb": rss_mb(children(pid))}

    async def timed(request: Any) -> list[float]:
        samples = []
        for _ in range(edits):
            started = time.perf_counter()
            await request()
            samples.append(time.perf_counter() - started)
        return samples

    position = types.Position(line=5, character=0)
    results["completion draft.toml"] = percentiles(
        await timed(
            lambda: client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uris["draft.toml"]),
                    position=position,
                )
            )
        )
    )
    results["completion values.yaml"] = percentiles(
        await timed(
            lambda: client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uris["values.yaml"]),
                    position=types.Position(line=5, character=2),
                )
            )
        )
    )
    results["code action app.py"] = percentiles(
        await timed(
            lambda: client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=(folder / "app.py").as_uri()),
                    range=types.Range(start=position, end=position),
                    context=types.CodeActionContext(diagnostics=[]),
                )
            )
        )
    )
    # Helm renders in a helper process of the server (draft.helper_process) that leaves
    # after DRAFT_HELPER_IDLE seconds without a render: counted beside the server while
    # values.yaml is edited, and the server alone again once it has left.
    results["memory"] = {"rss_mb": rss_mb([pid]), **memory}
    await asyncio.sleep(HELPER_IDLE + 2)
    results["memory"]["idle_rss_mb"] = rss_mb([pid, *children(pid)])
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    shutil.rmtree(folder, ignore_errors=True)
    return results


def report(results: dict[str, Any]) -> None:
    print(f"{'measure':<40}{'p50 (ms)':>10}{'p95 (ms)':>10}")
    for name, value in results.items():
        if "p50_ms" in value:
            print(f"{name:<40}{value['p50_ms']:>10.2f}{value['p95_ms']:>10.2f}")
    memory = results["memory"]
    print(f"{'server RSS (MB)':<40}{memory['rss_mb']:>10.1f}")
    print(f"{'its Helm helper, values.yaml edited (MB)':<40}{memory['helpers_rss_mb']:>10.1f}")
    print(f"{'server and helpers, idle (MB)':<40}{memory['idle_rss_mb']:>10.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    targets = {"diagnostics_p95_ms": 30, "completion_p95_ms": 20, "rss_mb": 120}
    RESULTS.write_text(json.dumps({"results": results, "targets": targets}, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="draft-ls latency and memory")
    parser.add_argument("--edits", type=int, default=200)
    report(asyncio.run(main(parser.parse_args().edits)))
