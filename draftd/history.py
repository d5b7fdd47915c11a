"""Every app's builds, kept across draftd's restarts: what ran, when, how long, how it ended.

One JSON-lines file per app and environment (`<state>/history/<app>/<env>.jsonl`),
newest last and bounded to the newest `KEEP` builds, plus each kept build's output
(`<state>/history/logs/<build id>.log`, already redacted like its events). Build ids are
checked by pattern before they name a file. A build under way has a note in
`<state>/history/running/`: one a killed draftd left there is recorded as interrupted
when the next draftd starts.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from draftd.builds import Build, BuildNotFound
from draftd.model import AppKey
from draftd.wire import HistoryEntry

KEEP = 100
INTERRUPTED = "interrupted"
INTERRUPTED_REASON = "draftd stopped before the build ended (it was killed, or crashed)"
_BUILD_ID = re.compile(r"b-[0-9a-z]{12}")


class BuildHistory:
    def __init__(self, folder: Path, keep: int = KEEP) -> None:
        self.folder = folder
        self.keep = keep
        self._lock = threading.Lock()
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        (folder / "running").mkdir(exist_ok=True)

    def begin(self, build: Build) -> None:
        """Note that `build` is under way (from a worker thread): if draftd is killed before
        it ends, the next draftd records it as interrupted (`recover`)."""
        entry = _entry(build)
        entry["outcome"], entry["reason"] = INTERRUPTED, INTERRUPTED_REASON
        (self.folder / "running" / f"{build.id}.json").write_text(json.dumps(entry))

    def record(self, build: Build) -> None:
        """Add an ended build (called from a worker thread by the pipeline)."""
        self._add(_entry(build), "\n".join(build.log_lines()) + "\n")
        (self.folder / "running" / f"{build.id}.json").unlink(missing_ok=True)

    def recover(self) -> int:
        """Record the builds a previous draftd began and never ended as interrupted."""
        recovered = 0
        for path in sorted((self.folder / "running").glob("*.json")):
            try:
                entry: HistoryEntry = json.loads(path.read_text(encoding="utf-8"))
                key = AppKey(entry["app"], entry["environment"])
                self._path(key)  # names checked before they name a file
                if not _BUILD_ID.fullmatch(entry["buildId"]):
                    raise ValueError(entry["buildId"])
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)  # torn by the crash: nothing to say
                continue
            self._add(entry, f"[{INTERRUPTED}] {INTERRUPTED_REASON}\n")
            path.unlink(missing_ok=True)
            recovered += 1
        return recovered

    def _add(self, entry: HistoryEntry, log_text: str) -> None:
        build_id = entry["buildId"]
        with self._lock:
            (self.folder / "logs" / f"{build_id}.log").write_text(log_text, encoding="utf-8")
            path = self._path(AppKey(entry["app"], entry["environment"]))
            entries = [*self._read(path), entry]
            for dropped in entries[: -self.keep]:
                (self.folder / "logs" / f"{dropped['buildId']}.log").unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(
                "".join(json.dumps(e) + "\n" for e in entries[-self.keep :]), encoding="utf-8"
            )
            temporary.replace(path)

    def builds(self, key: AppKey) -> list[HistoryEntry]:
        """The app's builds, newest first."""
        with self._lock:
            return list(reversed(self._read(self._path(key))))

    def log(self, build_id: str) -> str:
        if not _BUILD_ID.fullmatch(build_id):
            raise BuildNotFound(
                f"There is no build {build_id!r}.", "Build ids look like b-d21y62v2cfej."
            )
        try:
            return (self.folder / "logs" / f"{build_id}.log").read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BuildNotFound(
                f"There is no build {build_id} in draftd's history.",
                "`draft history` lists the builds it keeps.",
            ) from None

    def _path(self, key: AppKey) -> Path:
        for name in (key.app, key.environment):
            if not name or "/" in name or "\x00" in name or name.startswith("."):
                raise ValueError(f"unsafe history name {name!r}")
        return self.folder / key.app / f"{key.environment}.jsonl"

    @staticmethod
    def _read(path: Path) -> list[HistoryEntry]:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries: list[HistoryEntry] = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a torn line from a crash: skip it, keep the rest
        return entries


def _entry(build: Build) -> HistoryEntry:
    entry: HistoryEntry = {
        "buildId": build.id,
        "app": build.key.app,
        "environment": build.key.environment,
        "tag": build.tag,
        "trigger": build.trigger,
        "startedAt": build.created,
        "durationMs": build.elapsed_ms,
        "outcome": build.phase.value,
        "reason": build.reason or "",
        "url": build.url or "",
    }
    if build.stages:
        entry["stages"] = build.stages
    return entry
