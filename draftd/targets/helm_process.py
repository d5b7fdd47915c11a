"""Helm's engine in a helper process of draftd, there while releases are being changed.

helm-python-sdk runs Helm's Go runtime inside the process that imports it (≈ 80 MB resident,
for as long as that process lives). draftd needs Helm only for a deploy that builds, a
`draft status`/`delete` on the cluster, and finding an app's namespace after a restart; a save
synced into a pod needs none of it. So the release operations of `draftd.targets.helm_release`
run in `python -m draftd.targets.helm_process`, started on the first one and leaving after
`IDLE_EXIT` seconds without a request (the next one starts it again: ≈ 0.2 s). A draftd
idling between saves holds no Helm.

One JSON line per request on the helper's stdin (`{"operation", "cluster", "arguments"}`), one
JSON line per answer on its stdout (`{"result"}` or `{"error": {"message", "hint"}}`); Helm's
own output goes to draftd's stderr. Requests are sent one at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from draft.errors import DraftError
from draftd.targets.helm_release import Cluster, HelmReleaseFailed, ReleaseInfo

IDLE_EXIT = float(os.environ.get("DRAFTD_HELM_IDLE", "10"))
"""Seconds without a request after which the helper leaves (env DRAFTD_HELM_IDLE)."""
LEFT_IDLE = 3
"""The helper's exit code when it left idle, having read no request."""


class HelmProcess:
    """The release operations of `helm_release`, each run in the helper process. Blocking, as
    `helm_release`'s are: the kubernetes target calls them in a thread."""

    def __init__(self, idle_exit: float = IDLE_EXIT) -> None:
        self.idle_exit = idle_exit
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def upgrade_install(
        self,
        cluster: Cluster,
        chart_dir: Path,
        *,
        release: str,
        namespace: str,
        values: dict[str, Any],
    ) -> ReleaseInfo:
        arguments = {
            "chart_dir": str(chart_dir),
            "release": release,
            "namespace": namespace,
            "values": values,
        }
        return ReleaseInfo(**self._call("upgrade_install", cluster, arguments))

    def uninstall(self, cluster: Cluster, *, release: str, namespace: str) -> bool:
        return bool(self._call("uninstall", cluster, {"release": release, "namespace": namespace}))

    def status(self, cluster: Cluster, *, release: str, namespace: str) -> ReleaseInfo | None:
        found = self._call("status", cluster, {"release": release, "namespace": namespace})
        return None if found is None else ReleaseInfo(**found)

    def find_namespace(self, cluster: Cluster, release: str) -> str | None:
        found = self._call("find_namespace", cluster, {"release": release})
        return None if found is None else str(found)

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def _call(self, operation: str, cluster: Cluster, arguments: dict[str, Any]) -> Any:
        request = json.dumps(
            {"operation": operation, "cluster": dataclasses.asdict(cluster), "arguments": arguments}
        )
        with self._lock:
            for _ in range(2):  # once more when the helper had just left idle
                process = self._running()
                assert process.stdin is not None and process.stdout is not None
                try:
                    process.stdin.write(request + "\n")
                    process.stdin.flush()
                    line = process.stdout.readline()
                except OSError:
                    line = ""
                if line:
                    break
                code = process.wait()
                self._process = None
                if code != LEFT_IDLE:
                    raise HelmReleaseFailed(
                        f"Helm's helper process stopped (exit code {code}) during {operation}.",
                        "Deploy again; draftd's log says more.",
                    )
            else:  # pragma: no cover - the helper left idle twice in a row
                raise HelmReleaseFailed(f"Helm's helper process did not answer {operation}.")
        answer = json.loads(line)
        if "error" in answer:
            raise HelmReleaseFailed(answer["error"]["message"], answer["error"]["hint"])
        return answer["result"]

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "draftd.targets.helm_process", str(self.idle_exit)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        return self._process


def _perform(request: dict[str, Any]) -> Any:
    from draftd.targets import helm_release  # imports Helm's engine: here, in the helper only

    cluster = Cluster(**request["cluster"])
    arguments = request["arguments"]
    operation = request["operation"]
    if operation == "upgrade_install":
        chart_dir = Path(arguments.pop("chart_dir"))
        info = helm_release.upgrade_install(cluster, chart_dir, **arguments)
        return dataclasses.asdict(info)
    if operation == "status":
        found = helm_release.status(cluster, **arguments)
        return None if found is None else dataclasses.asdict(found)
    if operation == "uninstall":
        return helm_release.uninstall(cluster, **arguments)
    if operation == "find_namespace":
        return helm_release.find_namespace(cluster, arguments["release"])
    raise ValueError(f"unknown operation {operation!r}")


def serve(requests: IO[str], answers: IO[str], idle_exit: float) -> int:
    """Answer requests until stdin closes (0) or none came for `idle_exit` seconds."""
    while True:
        ready, _, _ = select.select([requests], [], [], idle_exit)
        if not ready:
            return LEFT_IDLE
        line = requests.readline()
        if not line:
            return 0
        try:
            answer: dict[str, Any] = {"result": _perform(json.loads(line))}
        except DraftError as error:
            answer = {"error": {"message": error.message, "hint": error.hint}}
        except Exception as error:  # a bug here must reach draftd as a failed deploy
            answer = {
                "error": {"message": f"Helm failed: {type(error).__name__}: {error}", "hint": ""}
            }
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> int:
    # The protocol keeps the real stdout; anything Helm prints goes to stderr instead.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    idle_exit = float(sys.argv[1]) if len(sys.argv) > 1 else IDLE_EXIT
    with contextlib.suppress(KeyboardInterrupt):
        return serve(sys.stdin, answers, idle_exit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
