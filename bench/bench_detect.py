"""Detection on a big tree: 50,000 files, most of them in a vendored node_modules/ and a
git-ignored build folder, the app itself a Go service.

    .venv/bin/python bench/bench_detect.py

Target: well under a second. Prints the median of 5 runs; writes bench/results/detect.json.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from draft import detect

RESULTS = Path(__file__).resolve().parent / "results" / "detect.json"


def make_tree(root: Path, files: int = 50_000) -> int:
    made = 0

    def write(path: Path, size: int) -> None:
        nonlocal made
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        made += 1

    write(root / "go.mod", 30)
    (root / ".gitignore").write_text("generated/\n")
    for index in range(2_000):
        write(root / "internal" / f"pkg{index // 50}" / f"file{index}.go", 400)
    for index in range(2_000):
        write(root / "docs" / f"page{index // 100}" / f"p{index}.md", 300)
    for index in range(10_000):
        write(root / "generated" / f"g{index // 200}" / f"gen{index}.ts", 300)
    while made < files:
        write(root / "node_modules" / f"lib{made // 100}" / f"index{made}.js", 200)
    return made


def make_flat_tree(root: Path, files: int = 50_000) -> int:
    """50,000 files that must all be looked at: a monorepo of Python services, nothing ignored."""
    (root / "requirements.txt").write_text("flask\n")
    for index in range(files - 1):
        path = root / f"service{index // 1000}" / f"module{index // 100}" / f"m{index}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 200)
    return files


def measure(make: Callable[[Path], int], label: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="draft-detect-") as folder:
        root = Path(folder)
        count = make(root)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            found = detect.best(root)
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"{label:<44}{count:>8,}{median:>12.4f}  {found.pack.name}")
    return {"tree": label, "files": count, "pack": found.pack.name, "median_s": round(median, 4)}


def main() -> None:
    print(f"{'tree':<44}{'files':>8}{'median (s)':>12}  detected")
    results = [
        measure(make_tree, "Go service + node_modules + git-ignored"),
        measure(make_flat_tree, "Python monorepo, every file walked"),
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"target_s": 1.0, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
