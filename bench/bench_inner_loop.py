"""The inner loop, measured: save → new text served, Draft against the loop a developer would
script by hand, and the bytes one edit sends.

    bash scripts/setup.sh && .venv/bin/python bench/bench_inner_loop.py [--edits 10]

1. Latency. examples/python is scaffolded and run by `draft up --watch` (watch_delay 0: the
   debounce is the user's choice, not Draft's cost). Each edit rewrites app.py's greeting and
   the clock runs from the write until the app's URL answers the new text. Draft runs twice:
   as scaffolded (`sync = true`: app.py is copied into the running container) and with
   `sync = false` (every save builds the image and replaces the container). The naive loop
   does what a shell script would: `docker build`, `docker rm -f`, `docker run -p`, then poll.
2. Bytes. The same app padded with 50 MB of incompressible assets: after a first deploy, a
   one-line change; Draft's upload is compared with the whole context as a tar.gz (what the
   original Draft sent on every `draft up`).

Targets: median latency ≤ 0.5 x the naive loop; bytes ≤ 1/1000 of the context's tar.gz.
Results print as a table and go to bench/results/inner_loop.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kit import Draftd, fetch, free_port, scaffold, set_greeting  # noqa: E402

from draft import deploy, manifest  # noqa: E402

RESULTS = REPO / "bench" / "results" / "inner_loop.json"


def wait_for(url: str, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while fetch(url) != text:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never answered {text!r}")
        time.sleep(0.01)


def draft_latencies(work: Path, edits: int, *, sync: bool) -> list[float]:
    name = "bench-sync" if sync else "bench-build"
    app = scaffold(work / name, name, watch_delay=0, sync=sync)
    daemon = Draftd(work / f"{name}-state", free_port())
    watching = daemon.draft_background("up", str(app), "--watch")
    try:
        assert watching.stdout is not None
        url = watching.stdout.readline().strip()
        wait_for(url, "Hello World!")
        times = []
        for edit in range(edits):
            text = f"Draft edit {edit}"
            started = time.monotonic()
            set_greeting(app, text)
            wait_for(url, text)
            times.append(time.monotonic() - started)
        return times
    finally:
        watching.terminate()
        watching.wait(20)
        daemon.draft("delete", str(app))
        daemon.stop()


def naive_latencies(work: Path, edits: int) -> list[float]:
    app = scaffold(work / "naive-app", "bench-naive")
    port = free_port()
    name = "draft-bench-naive"

    def redeploy() -> None:
        subprocess.run(
            ["docker", "build", "-q", "-t", name, str(app)], check=True, capture_output=True
        )
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", name],
            check=True,
            capture_output=True,
        )

    url = f"http://127.0.0.1:{port}"
    try:
        redeploy()
        wait_for(url, "Hello World!")
        times = []
        for edit in range(edits):
            text = f"Naive edit {edit}"
            started = time.monotonic()
            set_greeting(app, text)
            redeploy()
            wait_for(url, text)
            times.append(time.monotonic() - started)
        return times
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)


def upload_bytes(work: Path) -> dict[str, int]:
    app = scaffold(work / "big-app", "bench-bytes")
    assets = app / "assets"
    assets.mkdir()
    for index in range(50):
        (assets / f"blob-{index:02}.bin").write_bytes(os.urandom(1024 * 1024))
    daemon = Draftd(work / "bytes-state", free_port())
    os.environ.update({k: v for k, v in daemon.env.items() if k.startswith("DRAFT")})
    sent: list[deploy.Upload] = []
    try:
        asyncio.run(deploy.up(app, target="docker", on_upload=sent.append))
        set_greeting(app, "One line changed")
        asyncio.run(deploy.up(app, target="docker", on_upload=sent.append))
        daemon.draft("delete", str(app))
    finally:
        daemon.stop()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for entry in manifest.build_context(app):
            tar.add(app / entry.path, arcname=entry.path)
    return {
        "context_files": sent[-1].files,
        "context_tar_gz_bytes": archive.tell(),
        "first_up_bytes": sent[0].bytes_sent,
        "one_line_change_bytes": sent[-1].bytes_sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="draft-bench-") as folder:
        work = Path(folder)
        draft_times = draft_latencies(work, args.edits, sync=True)
        rebuild_times = draft_latencies(work, args.edits, sync=False)
        naive_times = naive_latencies(work, args.edits)
        sizes = upload_bytes(work)
        shutil.rmtree(work, ignore_errors=True)

    def summary(times: list[float]) -> dict[str, float]:
        ordered = sorted(times)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        return {"median_s": round(statistics.median(times), 3), "p90_s": round(p90, 3)}

    draft_summary, naive_summary = summary(draft_times), summary(naive_times)
    rebuild_summary = summary(rebuild_times)
    ratio = draft_summary["median_s"] / naive_summary["median_s"]
    byte_ratio = sizes["one_line_change_bytes"] / sizes["context_tar_gz_bytes"]
    result = {
        "edits": args.edits,
        "draft": {**draft_summary, "samples_s": [round(t, 3) for t in draft_times]},
        "draft_sync_false": {
            **rebuild_summary,
            "samples_s": [round(t, 3) for t in rebuild_times],
        },
        "naive": {**naive_summary, "samples_s": [round(t, 3) for t in naive_times]},
        "latency_ratio": round(ratio, 3),
        "bytes": {**sizes, "ratio": byte_ratio},
        "targets": {"latency_ratio_max": 0.5, "bytes_ratio_max": 0.001},
        "met": {"latency": ratio <= 0.5, "bytes": byte_ratio <= 0.001},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'save → served (s)':<34}{'median':>10}{'p90':>10}")
    for label, row in (
        ("draft up --watch", draft_summary),
        ("draft up --watch, sync = false", rebuild_summary),
    ):
        print(f"{label:<34}{row['median_s']:>10.3f}{row['p90_s']:>10.3f}")
    naive_row = f"{naive_summary['median_s']:>10.3f}{naive_summary['p90_s']:>10.3f}"
    print(f"{'docker build/rm/run loop':<34}{naive_row}")
    print(f"{'ratio (target ≤ 0.5)':<34}{ratio:>10.3f}")
    print()
    print(f"{'one-line change in a 50 MB app':<34}{'bytes':>14}")
    print(f"{'whole context as tar.gz':<34}{sizes['context_tar_gz_bytes']:>14,}")
    print(f"{'Draft upload':<34}{sizes['one_line_change_bytes']:>14,}")
    print(f"{'ratio (target ≤ 0.001)':<34}{byte_ratio:>14.6f}")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
