"""The pieces end-to-end tests are made of: a scaffolded copy of an example app, the `draft`
CLI run as a user runs it (a subprocess), a real draftd on its own port and state folder,
waiting for a URL to answer a text, reading a child's output line with a timeout, and what
a test does when a real thing it needs is missing."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import docker
import docker.errors
import pytest
from waiting import until

REPO = Path(__file__).resolve().parents[1]
DRAFT = [sys.executable, "-m", "draft.cli"]


def missing(what: str, how: str = "bash scripts/setup.sh") -> NoReturn:
    """Fail under CI, skip elsewhere, always saying how to get `what`: CI must never pass by
    skipping what it was meant to prove."""
    message = f"{what} (run `{how}`)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI needs {message}", pytrace=False)
    pytest.skip(f"needs {message}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build_settings(name: str = "hello", **overrides: Any) -> dict[str, Any]:
    """A build request's `settings`, as draft sends draft.toml's defaults for app `name`."""
    base = {
        "name": name,
        "namespace": "default",
        "dockerfile": "Dockerfile",
        "chart": "chart",
        "registry": "",
        "set": [],
        "custom_tags": [],
        "image_build_args": {},
        "target": "docker",
        "wait": True,
    }
    return base | overrides


def scaffold(folder: Path, name: str, example: str = "python", **settings: object) -> Path:
    """A copy of examples/<example> after `draft create`, with draft.toml keys overridden."""
    shutil.copytree(REPO / "examples" / example, folder)
    subprocess.run(
        [*DRAFT, "create", str(folder), "--name", name],
        check=True,
        capture_output=True,
        timeout=120,
    )
    toml = folder / "draft.toml"
    text = toml.read_text()
    for key, value in settings.items():
        rendered = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
        lines = [line for line in text.splitlines() if not line.startswith(f"{key} =")]
        text = "\n".join(lines) + f"\n{key} = {rendered}\n"
    toml.write_text(text)
    return folder


def up_events(draftd: Draftd, app: Path, timeout: float = 600) -> list[dict[str, Any]]:
    """`draft up` once with `-o json`: its events, the last one the result (checked ready)."""
    result = draftd.draft("up", str(app), "--no-watch", "-o", "json", timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["phase"] == "ready", events[-1]
    return events


def phases(events: list[dict[str, Any]]) -> list[str]:
    return [e["phase"] for e in events if e["kind"] == "phase"]


def messages(events: list[dict[str, Any]]) -> str:
    return "\n".join(e.get("message", "") for e in events)


def set_greeting(app: Path, text: str) -> None:
    source = app / "app.py"
    lines = source.read_text().splitlines()
    lines = [
        f'    return "{text}"' if line.strip().startswith("return ") else line for line in lines
    ]
    source.write_text("\n".join(lines) + "\n")


def warm_app(app: Path) -> None:
    """examples/python (scaffolded) telling whether Flask was imported before its own code ran, its greeting
    from a module of its own (`greeting.py`)."""
    (app / "greeting.py").write_text('TEXT = "first"\n')
    source = app / "app.py"
    source.write_text(
        source.read_text()
        .replace("import os\n", "import os\nimport sys\n\nWARM = 'flask' in sys.modules\n", 1)
        .replace(
            "from flask import Flask\n", "from flask import Flask\nfrom greeting import TEXT\n"
        )
        .replace('return "Hello World!"', 'return f"{TEXT} warm={WARM}"')
    )


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return str(answer.read().decode())
    except (OSError, http.client.HTTPException):  # refused, reset, or cut off mid-answer
        return None


def wait_for_text(url: str, text: str, timeout: float = 90) -> None:
    seen: str | None = None

    def answers() -> bool:
        nonlocal seen
        seen = fetch(url)
        return seen == text

    until(answers, timeout, lambda: f"{url} answered {seen!r}, not {text!r}")


def read_line(stream: IO[str] | None, timeout: float = 300) -> str:
    """The next line a child process writes to `stream` (a pipe), failing after `timeout`
    seconds rather than hanging the test when none comes."""
    assert stream is not None, "the process's output is not a pipe"
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no line of output within {timeout} s") from None


@dataclass
class Draftd:
    """Where a test's draftd is (or will be, when `draft up` starts it by itself)."""

    state: Path
    port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "draftd"])
    """What runs draftd: `python -m draftd`, or a script with stand-in parts."""

    @classmethod
    def started(cls, state: Path, command: list[str] | None = None) -> Draftd:
        """A draftd on a free port with `state`, once it serves."""
        daemon = cls(state, free_port(), command=command or [sys.executable, "-m", "draftd"])
        daemon.start()
        return daemon

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DRAFTD_STATE": str(self.state),
            "DRAFT_DAEMON_URL": self.url,
            **self.extra_env,
        }

    def start(self) -> None:
        self.state.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [*self.command, "--port", str(self.port), "--state-dir", str(self.state)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.state.parent / "draftd.log").open("ab"),
        )
        process = self.process

        def serving() -> bool:
            assert process.poll() is None, f"draftd exited with {process.returncode}"
            return self.serving_pid() == process.pid and fetch(f"{self.url}/v1/health") is not None

        until(serving, 20, "draftd did not start")

    @property
    def token(self) -> str:
        return (self.state / "token").read_text().strip()

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any]:
        """One request as `draft` sends it (the token, JSON), unless `headers` say otherwise."""
        sent = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={**sent, **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text.decode(errors="replace")

    def task_past_its_limit(self, app: str, command: list[str]) -> dict[str, Any]:
        """Run `command` in the app as a post-deploy task limited to 2 s: draftd answers well
        within 15 s that it stopped the task (the answer, for more checks)."""
        from draftd.targets.base import TIMED_OUT

        started = time.monotonic()
        status, answer = self.call(
            "POST",
            f"/v1/apps/{app}/development/exec",
            {"command": command, "timeoutSeconds": 2},
            timeout=60,
        )
        assert status == 200, answer
        assert time.monotonic() - started < 15
        assert answer["exitCode"] == TIMED_OUT, answer
        assert "stopped after 2 s" in answer["cutShort"]
        return dict(answer)

    def rss_mb(self) -> float:
        """The serving draftd's resident memory now, from /proc."""
        for line in Path(f"/proc/{self.serving_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("draftd has no VmRSS")

    def draft(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*DRAFT, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def draft_background(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*DRAFT, *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def blobs(self) -> set[str]:
        """The digests draftd has stored (what it received, ever)."""
        return {f"sha256:{p.name}" for p in (self.state / "blobs" / "sha256").glob("*/*")}

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop the draftd serving this state (SIGTERM), and the one this started."""
        pid = self.serving_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signum)
            self.process.wait(10)
        elif pid is not None:
            _wait_gone(pid)

    def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        self.stop(signal.SIGKILL)

    def serving_pid(self) -> int | None:
        """The PID draftd.json names while that process lives (draft up may have started it)."""
        try:
            pid = int(json.loads((self.state / "draftd.json").read_text())["pid"])
            os.kill(pid, 0)
        except (OSError, ValueError, KeyError):
            return None
        return pid


def _wait_gone(pid: int, timeout: float = 30) -> None:
    """Until process `pid` has ended (a draftd ends after the deploys it had under way)."""
    until(lambda: not running(pid), timeout, f"process {pid} did not end")


def running(pid: int) -> bool:
    """Whether process `pid` still runs (an ended one nobody has reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@contextlib.contextmanager
def removing_new_containers(engine: docker.DockerClient) -> Iterator[None]:
    """Remove, afterwards, every container Draft deployed meanwhile (tests run one at a time)."""
    managed = {"label": "sh.draft.managed=true"}
    before = {c.id for c in engine.containers.list(all=True, filters=managed, sparse=True)}
    try:
        yield
    finally:
        for container in engine.containers.list(all=True, filters=managed, sparse=True):
            if container.id not in before:
                try:
                    container.remove(force=True)
                except docker.errors.APIError as error:
                    # Gone already, or being removed: draftd replaced it, or another test run
                    # on the same engine is cleaning up.
                    if error.status_code not in (404, 409):
                        raise


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=20)
    return out, err
