"""Work that needs a heavy library, done in a helper process that leaves when idle.

helm-python-sdk runs Helm's Go runtime inside whichever process imports it (≈ 80 MB
resident, for as long as that process lives); the language server and draftd live for
hours and need Helm only now and then. So they ask a helper, `python -m <module>`, started
on the first request and leaving after `idle_exit` seconds without one; the next request
starts it again (≈ 0.2 s). One JSON line per request on its stdin (`{"operation",
"arguments"}`), one per answer on its stdout (`{"result"}`, or `{"error": {"message",
"hint"}}` for a `DraftError`); whatever the library prints goes to stderr. Requests are sent
one at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from draft.errors import DraftError

IDLE_EXIT = float(os.environ.get("DRAFT_HELPER_IDLE", "10"))
"""Seconds without a request after which a helper leaves (env DRAFT_HELPER_IDLE)."""
LEFT_IDLE = 3
"""A helper's exit code when it left idle, having read no request."""

Failure = Callable[[str, str], DraftError]
"""Makes the caller's error type from a message and a hint."""


class HelperProcess:
    """The client side: `call` sends one request to the helper running `module`. Blocking;
    async callers use a thread."""

    def __init__(
        self, module: str, failure: Failure, what: str, idle_exit: float = IDLE_EXIT
    ) -> None:
        self.module = module
        self.failure = failure
        self.what = what
        """How errors name the helper: "Helm's helper process"."""
        self.idle_exit = idle_exit
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def call(self, operation: str, arguments: dict[str, Any]) -> Any:
        request = json.dumps({"operation": operation, "arguments": arguments}, default=str)
        with self._lock:
            line = ""
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
                    raise self.failure(
                        f"{self.what} stopped (exit code {code}) during {operation}.",
                        "Try again; the log says more.",
                    )
            if not line:
                raise self.failure(f"{self.what} did not answer {operation}.", "Try again.")
        answer = json.loads(line)
        if "error" in answer:
            raise self.failure(answer["error"]["message"], answer["error"]["hint"])
        return answer["result"]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", self.module, str(self.idle_exit)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            # Reaped as soon as it leaves, so no defunct helper waits for the next request.
            threading.Thread(target=self._process.wait, daemon=True).start()
        return self._process


Perform = Callable[[str, dict[str, Any]], Any]


def serve(perform: Perform, requests: IO[str], answers: IO[str], idle_exit: float) -> int:
    """The helper's side: answer requests until stdin closes (0) or none came for
    `idle_exit` seconds (`LEFT_IDLE`)."""
    while True:
        ready, _, _ = select.select([requests], [], [], idle_exit)
        if not ready:
            return LEFT_IDLE
        line = requests.readline()
        if not line:
            return 0
        request = json.loads(line)
        try:
            answer: dict[str, Any] = {"result": perform(request["operation"], request["arguments"])}
        except DraftError as error:
            answer = {"error": {"message": error.message, "hint": error.hint}}
        except Exception as error:  # a bug here must reach the caller as its error, not hang it
            answer = {"error": {"message": f"{type(error).__name__}: {error}", "hint": ""}}
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


def main(perform: Perform) -> int:
    """`python -m <helper module>`: serve on stdin/stdout, idle time from argv[1]."""
    # The protocol keeps the real stdout; anything the library prints goes to stderr instead.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    idle_exit = float(sys.argv[1]) if len(sys.argv) > 1 else IDLE_EXIT
    with contextlib.suppress(KeyboardInterrupt):
        return serve(perform, sys.stdin, answers, idle_exit)
    return 0
