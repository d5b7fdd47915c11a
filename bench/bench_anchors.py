"""Draft against the tools its users would otherwise pick: Skaffold (`skaffold dev` with file
sync) and Tilt (`tilt up` with live_update), on the same app, engine and cluster, in one run.

    bash scripts/setup.sh && bash scripts/setup-cluster.sh && bash scripts/setup-anchors.sh
    .venv/bin/python bench/bench_anchors.py [--only docker|kubernetes] [--edits 10]
        [--rebuild-edits 5] [--tools draft,skaffold,tilt] [--idle-seconds 20]

The app is examples/python as `draft create` writes it, one copy per tool. Skaffold and Tilt get
the configuration their own docs recommend for the fastest loop, written into their copy (and
printed, with the command line, before each run):

- Skaffold: `skaffold dev`, the Dockerfile artifact with `sync: infer: ["**/*.py"]` (a .py save
  is copied into the container; anything else, such as requirements.txt, rebuilds), the Helm
  deployer on the same chart (kubernetes; image pushed to the loopback registry, tag@digest as
  the docs show) or the docker deployer (docker), a port-forward to the app, the file-watch
  debounce (`--watch-poll-interval`) at 1 ms.
- Tilt: `tilt up`, `docker_build(..., live_update=[fall_back_on(['requirements.txt']),
  sync('.', '/app')])`, `k8s_yaml(helm(...))` plus a port-forward (kubernetes), or
  `docker_compose()` with `restart_container()` after the sync (docker). Tilt's debounce is
  fixed at 200 ms (not configurable).
- Draft: `draft up --watch` as scaffolded (`sync = true`), `watch_delay = 0`.

Neither Skaffold nor Tilt restarts a process after a sync on Kubernetes (Tilt's restart_process
extension needs an image from Docker Hub); their docs' Python examples run the app with Flask's
reloader, so their copies set `FLASK_DEBUG=1` and add `watchdog` (the reloader's inotify mode,
its fastest) to requirements.txt, and copy the code owned by the app's user (their syncs run
`tar` in the container as that user; Skaffold's own hot-reload example does the same). Draft's
copy is unchanged.

Measured per tool and target: first deploy (the tool started → the URL answers, image layers
cached for every tool by a build of its Dockerfile beforehand, so no tool pays for pip's
downloads there); save → new text served for `--edits` edits of app.py's greeting (each file
replaced atomically, the URL polled every 10 ms, 1 s between edits); the rebuild path: the same
with requirements.txt changed too (a new comment line, so every tool rebuilds and pip runs);
and the tool's idle CPU (% of one core) and resident memory over `--idle-seconds` after the
edits, summed over its processes (Draft: draftd and `draft up --watch`; children included).

Results: bench/results/anchors.json, keyed target → tool → figure; a figure a tool cannot give
is null with a "why"; each tool's output goes to bench/results/anchors-logs/. Everything the
bench creates (namespaces, containers, images it or the tools tagged, processes) is removed at
the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kit import fetch, free_port, scaffold  # noqa: E402

RESULTS = REPO / "bench" / "results" / "anchors.json"
REGISTRY = os.environ.get("DRAFT_REGISTRY", "127.0.0.1:5000")
KUBECONFIG = Path(os.environ.get("DRAFT_CLUSTER_DIR", "/var/lib/draft-cluster"), "admin.kubeconfig")
KUBE_CONTEXT = "draft-local"
TOOLS = ("draft", "skaffold", "tilt")
TARGETS = ("docker", "kubernetes")
FIGURES = (
    "sync_median_s",
    "sync_p90_s",
    "rebuild_median_s",
    "rebuild_p90_s",
    "first_deploy_s",
    "idle_cpu_pct",
    "idle_rss_mb",
)
CLK_TCK = os.sysconf("SC_CLK_TCK")
FIRST_DEPLOY_TIMEOUT = 600.0
EDIT_TIMEOUT = 180.0  # a rebuild, pip install included
SYNC_TIMEOUT = 90.0
LOGS = REPO / "bench" / "results" / "anchors-logs"


class Unavailable(Exception):
    """A tool that cannot run here; the message is the exact reason."""


# ------------------------------------------------------------------------------------------
# Processes: CPU and memory of a process tree, from /proc.


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(roots: list[int]) -> list[int]:
    tree = _children()
    seen: list[int] = []
    todo = [pid for pid in roots if Path(f"/proc/{pid}").exists()]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(tree.get(pid, []))
    return seen


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return used


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def idle_usage(roots: list[int], seconds: float) -> tuple[float, float, list[str]]:
    """CPU (% of one core) over `seconds` and resident memory (MB) at the end, summed over
    the trees under `roots`; also the processes counted."""
    pids = descendants(roots)
    before = cpu_seconds(pids)
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    pids_after = descendants(roots)
    after = cpu_seconds(pids_after)
    used = sum(after[pid] - before.get(pid, 0.0) for pid in after)
    names = []
    for pid in pids_after:
        with contextlib.suppress(OSError):
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return 100 * used / elapsed, rss_mb(pids_after), sorted(names)


# ------------------------------------------------------------------------------------------
# Edits, waiting, commands.


def replace_file(path: Path, text: str) -> None:
    """Write as an editor that saves atomically does: a new file renamed over the old one, so
    no watcher ever reads half a file. The temporary file is outside the watched folder."""
    staging = path.parent.parent / f".{path.parent.name}-{path.name}.save"
    staging.write_text(text)
    staging.replace(path)


def greeting_source(app: Path, text: str) -> str:
    lines = (app / "app.py").read_text().splitlines()
    return (
        "\n".join(
            f'    return "{text}"' if ln.strip().startswith("return ") else ln for ln in lines
        )
        + "\n"
    )


def wait_for(
    url: Callable[[], str], text: str, timeout: float, alive: Callable[[], str | None]
) -> None:
    deadline = time.monotonic() + timeout
    polls = 0
    while fetch(url()) != text:
        polls += 1
        if polls % 100 == 0:
            gone = alive()
            if gone:
                raise RuntimeError(f"waiting for {text!r} at {url()}: {gone}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url()} never answered {text!r} within {timeout:.0f} s")
        time.sleep(0.01)


def timed_edit(
    url: Callable[[], str], text: str, timeout: float, alive: Callable[[], str | None]
) -> str | None:
    """Wait for the edit to be served; the reason when it is not (the tool still running: the
    next edit is measured; the tool gone: the run stops)."""
    try:
        wait_for(url, text, timeout, alive)
    except RuntimeError as error:
        if alive():
            raise
        return str(error)
    return None


def record(
    figures: dict[str, Any], why: dict[str, str], path: str, times: list[float], failed: list[str]
) -> None:
    """Median and p90 of the edits that were served; the ones that never were, counted."""
    if times:
        figures[f"{path}_median_s"], figures[f"{path}_p90_s"] = summary(times)
    figures[f"{path}_samples_s"] = [round(t, 3) for t in times]
    if failed:
        figures[f"{path}_failed_edits"] = len(failed)
        why[f"{path}_failed_edits"] = f"{len(failed)} of {len(times) + len(failed)}: {failed[0]}"
        if not times:
            why[f"{path}_median_s"] = failed[0]


def run(*command: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {done.returncode}: {(done.stderr or done.stdout)[-2000:]}"
        )
    return done.stdout


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return round(statistics.median(times), 3), round(p90, 3)


# ------------------------------------------------------------------------------------------
# The tools.


@dataclass
class Setup:
    """Paths and environment shared by every tool on every target."""

    work: Path
    run_id: str
    bins: dict[str, Path]
    kubectl: Path | None
    home: Path
    draft_watch_delay: float = 0

    def env(self, target: str) -> dict[str, str]:
        path = [str(p.parent) for p in self.bins.values()]
        if self.kubectl is not None:
            path.append(str(self.kubectl.parent))
        env = {
            **os.environ,
            "PATH": os.pathsep.join([*path, os.environ.get("PATH", "")]),
            "HOME": str(self.home),  # no earlier run's caches or settings for any tool
            "SKAFFOLD_UPDATE_CHECK": "false",
            "SKAFFOLD_INTERACTIVE": "false",
            "SKAFFOLD_COLLECT_METRICS": "false",
            "DOCKER_CONFIG": str(self.home / ".docker"),
        }
        # BuildKit, as Draft builds (the pack's Dockerfile has cache mounts), through the
        # buildx plugin Docker's CLI needs for it.
        env["DOCKER_BUILDKIT"] = "1"
        if "buildx" in self.bins:
            plugins = self.home / ".docker" / "cli-plugins"
            plugins.mkdir(parents=True, exist_ok=True)
            link = plugins / "docker-buildx"
            if not link.exists():
                link.symlink_to(self.bins["buildx"])
        if target == "kubernetes":
            env["KUBECONFIG"] = str(KUBECONFIG)
        else:
            env["KUBECONFIG"] = str(self.home / "no-kubeconfig")
        return env


@dataclass
class Run:
    """One tool running on one target."""

    tool: str
    target: str
    app: Path
    name: str
    namespace: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    config: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)

    def alive(self) -> str | None:
        if self.process is not None and self.process.poll() is not None:
            return f"{self.tool} exited {self.process.returncode}:\n{tail(self.log)}"
        return None


class Tool:
    name = ""
    watching = ""  # what the tool prints once it watches the files (a regex), if anything

    def __init__(self, setup: Setup) -> None:
        self.setup = setup

    def version(self) -> str:
        raise NotImplementedError

    def prepare(self, run_: Run) -> None:
        """Write the tool's configuration into run_.app; fill run_.config and run_.command."""
        raise NotImplementedError

    def start(self, run_: Run) -> str:
        """Start the tool; return the URL the app will answer on."""
        raise NotImplementedError

    def current_url(self, run_: Run, first: str) -> str:
        """Where the app answers now (the URL the tool printed last)."""
        return first

    def roots(self, run_: Run) -> list[int]:
        assert run_.process is not None
        return [run_.process.pid]

    def stop(self, run_: Run) -> None:
        process = run_.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def extra_env(self, run_: Run) -> dict[str, str]:
        return {}

    def popen(self, run_: Run, command: list[str]) -> subprocess.Popen[bytes]:
        run_.command = command
        return subprocess.Popen(
            command,
            cwd=run_.app,
            env={**self.setup.env(run_.target), **self.extra_env(run_)},
            stdin=subprocess.DEVNULL,
            stdout=run_.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole if need be
        )


ANCHOR_DOCKERFILE_NOTE = (
    "# Skaffold's and Tilt's syncs run tar in the container as the app's user:\n"
    "# the code is owned by it (Skaffold's hot-reload example does the same).\n"
)


def anchor_app(app: Path, *, reloader: bool) -> None:
    """The changes Skaffold's and Tilt's docs ask of the app for a sync to take effect."""
    dockerfile = app / "Dockerfile"
    text = dockerfile.read_text()
    text = text.replace("WORKDIR /app\n", "WORKDIR /app\nRUN chown 10001:10001 /app\n")
    text = text.replace("COPY . .", ANCHOR_DOCKERFILE_NOTE + "COPY --chown=10001:10001 . .")
    if reloader:
        text = text.replace(
            "PORT=8080\n",
            "PORT=8080 \\\n    FLASK_DEBUG=1\n",
        )
        requirements = app / "requirements.txt"
        requirements.write_text(requirements.read_text() + "watchdog==6.0.0\n")
    dockerfile.write_text(text)


class Draft(Tool):
    name = "draft"
    watching = r"^Watching .* for changes"

    def version(self) -> str:
        out = run(sys.executable, "-m", "draft.cli", "--version")
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        return f"{out.strip().split()[-1]} ({commit})" if commit else out.strip().split()[-1]

    def prepare(self, run_: Run) -> None:
        settings: dict[str, object] = {
            "watch_delay": self.setup.draft_watch_delay,
            "sync": True,
            "target": run_.target,
        }
        if run_.target == "kubernetes":
            settings.update(namespace=run_.namespace, registry=REGISTRY)
        scaffold(run_.app, run_.name, **settings)
        run_.config["draft.toml"] = (run_.app / "draft.toml").read_text()

    def _state(self, run_: Run) -> Path:
        return run_.app.parent / f"{run_.name}-draftd"

    def extra_env(self, run_: Run) -> dict[str, str]:
        return {
            "DRAFTD_STATE": str(self._state(run_)),
            "DRAFT_DAEMON_URL": f"http://127.0.0.1:{self._daemon_port(run_)}",
        }

    def _daemon_port(self, run_: Run) -> int:
        if "daemon_port" not in run_.config:
            run_.config["daemon_port"] = str(free_port())
        return int(run_.config["daemon_port"])

    def start(self, run_: Run) -> str:
        # `draft up` starts its own draftd (none answers on this port yet): counted, as a
        # user's first `draft up` pays for it too.
        run_.process = self.popen(
            run_, [sys.executable, "-m", "draft.cli", "up", str(run_.app), "--watch"]
        )
        deadline = time.monotonic() + FIRST_DEPLOY_TIMEOUT
        while True:
            found = re.search(r"^(http://\S+)$", run_.log.read_text(errors="replace"), re.M)
            if found:
                return found.group(1)
            if gone := run_.alive():
                raise RuntimeError(gone)
            if time.monotonic() > deadline:
                raise RuntimeError(f"draft up printed no URL:\n{tail(run_.log)}")
            time.sleep(0.01)

    def current_url(self, run_: Run, first: str) -> str:
        # Draft promises one URL across redeploys; should it print another, a user would
        # follow it, and so does the bench (measure() records every URL seen).
        printed = re.findall(r"ready at (http://\S+)", run_.log.read_text(errors="replace"))
        return printed[-1] if printed else first

    def daemon_pid(self, run_: Run) -> int | None:
        info = self._state(run_) / "draftd.json"
        with contextlib.suppress(OSError, ValueError, KeyError):
            return int(json.loads(info.read_text())["pid"])
        return None

    def roots(self, run_: Run) -> list[int]:
        pid = self.daemon_pid(run_)
        return [*super().roots(run_), *([pid] if pid else [])]

    def stop(self, run_: Run) -> None:
        super().stop(run_)
        env = {**self.setup.env(run_.target), **self.extra_env(run_)}
        subprocess.run(
            [sys.executable, "-m", "draft.cli", "delete", str(run_.app)],
            env=env, capture_output=True, check=False, timeout=300,
        )  # fmt: skip
        pid = self.daemon_pid(run_)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.1)


class Skaffold(Tool):
    name = "skaffold"
    watching = r"^Watching for changes\.\.\."  # its port-forward answers before it watches

    def version(self) -> str:
        return run(str(self.setup.bins["skaffold"]), "version").strip()

    def prepare(self, run_: Run) -> None:
        scaffold(run_.app, run_.name)
        anchor_app(run_.app, reloader=True)
        key = re.sub(r"[^A-Za-z0-9]", "_", run_.name)
        artifact = textwrap.dedent(f"""\
            build:
              tagPolicy:
                inputDigest: {{}}
              local:
                push: {"true" if run_.target == "kubernetes" else "false"}
                useBuildkit: true
              artifacts:
                - image: {run_.name}
                  context: .
                  docker:
                    dockerfile: Dockerfile
                  sync:
                    infer: ["**/*.py"]
            """)
        if run_.target == "kubernetes":
            deploy = textwrap.dedent(f"""\
                deploy:
                  helm:
                    releases:
                      - name: {run_.name}
                        chartPath: chart
                        namespace: {run_.namespace}
                        createNamespace: true
                        setValueTemplates:
                          image.repository: "{{{{.IMAGE_REPO_{key}}}}}"
                          image.tag: "{{{{.IMAGE_TAG_{key}}}}}@{{{{.IMAGE_DIGEST_{key}}}}}"
                portForward:
                  - resourceType: deployment
                    resourceName: {run_.name}
                    namespace: {run_.namespace}
                    port: 8080
                    address: 127.0.0.1
                    localPort: {run_.port}
                """)
        else:
            deploy = textwrap.dedent(f"""\
                deploy:
                  docker:
                    images: [{run_.name}]
                portForward:
                  - resourceType: container
                    resourceName: {run_.name}
                    port: 8080
                    address: 127.0.0.1
                    localPort: {run_.port}
                """)
        config = (
            f"apiVersion: skaffold/v4beta13\nkind: Config\nmetadata:\n  name: {run_.name}\n"
            + artifact
            + deploy
        )
        (run_.app / "skaffold.yaml").write_text(config)
        run_.config["skaffold.yaml"] = config
        run_.config["Dockerfile"] = (run_.app / "Dockerfile").read_text()
        run_.config["requirements.txt"] = (run_.app / "requirements.txt").read_text()

    def start(self, run_: Run) -> str:
        command = [
            str(self.setup.bins["skaffold"]), "dev",
            "--filename", "skaffold.yaml",
            "--port-forward=user",
            "--watch-poll-interval=1",  # the debounce, in ms: its minimum
            "--trigger=notify",
            "--cleanup=true",
        ]  # fmt: skip
        if run_.target == "kubernetes":
            command += [
                f"--default-repo={REGISTRY}",
                f"--insecure-registry={REGISTRY}",
                f"--kube-context={KUBE_CONTEXT}",
            ]
        run_.process = self.popen(run_, command)
        return f"http://127.0.0.1:{run_.port}"


class Tilt(Tool):
    name = "tilt"

    def version(self) -> str:
        return run(str(self.setup.bins["tilt"]), "version").strip()

    def prepare(self, run_: Run) -> None:
        scaffold(run_.app, run_.name)
        kubernetes = run_.target == "kubernetes"
        anchor_app(run_.app, reloader=kubernetes)
        common = textwrap.dedent("""\
            analytics_settings(enable=False)
            docker_prune_settings(disable=True)
            """)
        if kubernetes:
            tiltfile = common + textwrap.dedent(f"""\
                allow_k8s_contexts('{KUBE_CONTEXT}')
                default_registry('{REGISTRY}')
                docker_build('{run_.name}', '.', live_update=[
                    fall_back_on(['requirements.txt']),
                    sync('.', '/app'),
                ])
                k8s_yaml(helm('chart', name='{run_.name}', namespace='{run_.namespace}'))
                k8s_resource('{run_.name}', port_forwards=[port_forward({run_.port}, 8080)])
                """)
        else:
            compose = textwrap.dedent(f"""\
                services:
                  {run_.name}:
                    image: {run_.name}
                    ports:
                      - "127.0.0.1:{run_.port}:8080"
                """)
            (run_.app / "compose.yaml").write_text(compose)
            run_.config["compose.yaml"] = compose
            tiltfile = common + textwrap.dedent(f"""\
                docker_compose('compose.yaml', project_name='{run_.name}')
                docker_build('{run_.name}', '.', live_update=[
                    fall_back_on(['requirements.txt']),
                    sync('.', '/app'),
                    restart_container(),
                ])
                """)
        (run_.app / "Tiltfile").write_text(tiltfile)
        run_.config["Tiltfile"] = tiltfile
        run_.config["Dockerfile"] = (run_.app / "Dockerfile").read_text()
        run_.config["requirements.txt"] = (run_.app / "requirements.txt").read_text()

    def start(self, run_: Run) -> str:
        ui_port = free_port()
        run_.config["ui_port"] = str(ui_port)
        command = [
            str(self.setup.bins["tilt"]), "up",
            "--file", "Tiltfile",
            "--stream",
            "--host", "127.0.0.1",
            "--port", str(ui_port),
        ]  # fmt: skip
        if run_.target == "kubernetes":
            command += ["--context", KUBE_CONTEXT]
        run_.process = self.popen(run_, command)
        return f"http://127.0.0.1:{run_.port}"

    def stop(self, run_: Run) -> None:
        super().stop(run_)
        command = [str(self.setup.bins["tilt"]), "down", "--file", "Tiltfile"]
        if run_.target == "kubernetes":
            command += ["--context", KUBE_CONTEXT]
        with run_.log.open("ab") as log:
            subprocess.run(
                command, cwd=run_.app, env=self.setup.env(run_.target), stdout=log,
                stderr=subprocess.STDOUT, check=False, timeout=300,
            )  # fmt: skip


# ------------------------------------------------------------------------------------------
# One tool on one target.


def measure(
    tool: Tool, target: str, setup: Setup, edits: int, rebuild_edits: int, idle_seconds: float
) -> dict[str, Any]:
    short = {"draft": "dr", "skaffold": "sk", "tilt": "ti"}[tool.name]
    name = f"anc-{short}-{target[0]}-{setup.run_id}"
    folder = setup.work / f"{tool.name}-{target}"
    folder.mkdir()
    run_ = Run(
        tool=tool.name,
        target=target,
        app=folder / "app",
        name=name,
        namespace=name,
        port=free_port(),
        log=folder / f"{tool.name}.log",
    )
    figures: dict[str, Any] = {"version": tool.version()}
    if tool.name != "draft" and "helm" in setup.bins:
        figures["helm_version"] = run(str(setup.bins["helm"]), "version", "--short").strip()
    why: dict[str, str] = {}
    tool.prepare(run_)
    prime_tag = f"{name}-prime"
    print(f"\n=== {tool.name} on {target}: configuration", flush=True)
    for file, text in run_.config.items():
        if file in ("daemon_port", "ui_port"):
            continue
        print(f"--- {file}\n{text.rstrip()}")
    started_at = time.monotonic()
    urls_seen: list[str] = []
    try:
        # Every tool starts with its image's layers cached (pip's downloads are not the
        # tools' cost); the tag is removed afterwards, the layers stay for the tool.
        run("docker", "build", "-q", "-t", prime_tag, str(run_.app), env=setup.env(target))
        if target == "kubernetes" and tool.name == "tilt":
            kubectl(setup, "create", "namespace", run_.namespace)  # helm() does not create it
        started = time.monotonic()
        first_url = tool.start(run_)
        urls_seen.append(first_url)

        def url() -> str:
            now = tool.current_url(run_, first_url)
            if now != urls_seen[-1]:
                urls_seen.append(now)
                print(f"  !! the app's URL changed: {urls_seen[-2]} → {now}", flush=True)
            return now

        print(f"--- command\n{' '.join(run_.command)}\n(url {first_url}, log {run_.log})")
        wait_for(url, "Hello World!", FIRST_DEPLOY_TIMEOUT, run_.alive)
        figures["first_deploy_s"] = round(time.monotonic() - started, 3)
        print(f"first deploy: {figures['first_deploy_s']:.2f} s", flush=True)
        deadline = time.monotonic() + 60
        while tool.watching and not re.search(tool.watching, run_.log.read_text(), re.M):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{tool.name} never said it watches the files")
            time.sleep(0.05)
        time.sleep(3)  # let the tool finish its own post-deploy work (status checks, logs)

        sync_times = []
        sync_failures: list[str] = []
        for edit in range(edits):
            text = f"{tool.name} edit {edit}"
            source = greeting_source(run_.app, text)
            start = time.monotonic()
            replace_file(run_.app / "app.py", source)
            if failed := timed_edit(url, text, SYNC_TIMEOUT, run_.alive):
                sync_failures.append(failed)
                print(f"  save → served {edit}: FAILED: {failed}", flush=True)
                continue
            sync_times.append(time.monotonic() - start)
            print(f"  save → served {edit}: {sync_times[-1]:.3f} s", flush=True)
            time.sleep(1)
        record(figures, why, "sync", sync_times, sync_failures)

        rebuild_times = []
        rebuild_failures: list[str] = []
        for edit in range(rebuild_edits):
            text = f"{tool.name} rebuild {edit}"
            requirements = (run_.app / "requirements.txt").read_text()
            source = greeting_source(run_.app, text)
            start = time.monotonic()
            replace_file(run_.app / "requirements.txt", requirements + f"# {name} rebuild {edit}\n")
            replace_file(run_.app / "app.py", source)
            if failed := timed_edit(url, text, EDIT_TIMEOUT, run_.alive):
                rebuild_failures.append(failed)
                print(f"  rebuild → served {edit}: FAILED: {failed}", flush=True)
                continue
            rebuild_times.append(time.monotonic() - start)
            print(f"  rebuild → served {edit}: {rebuild_times[-1]:.3f} s", flush=True)
            time.sleep(2)
        if rebuild_edits:
            record(figures, why, "rebuild", rebuild_times, rebuild_failures)

        time.sleep(5)
        cpu, rss, processes = idle_usage(tool.roots(run_), idle_seconds)
        figures["idle_cpu_pct"] = round(cpu, 2)
        figures["idle_rss_mb"] = round(rss, 1)
        figures["idle_processes"] = processes
        print(f"idle: {cpu:.2f} % CPU, {rss:.0f} MB ({', '.join(processes)})", flush=True)
    except Exception as error:  # the run goes on; the reason is recorded
        message = f"{type(error).__name__}: {error}"
        print(f"!! {tool.name} on {target}: {message}\n{tail(run_.log, 40)}", flush=True)
        if os.environ.get("BENCH_TRACE"):
            traceback.print_exc()
        for key in ("first_deploy_s", "sync_median_s", "rebuild_median_s", "idle_cpu_pct"):
            if key not in figures:
                why.setdefault(key, message)
    finally:
        try:
            tool.stop(run_)
        finally:
            cleanup(setup, run_, prime_tag)
            LOGS.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copy(run_.log, LOGS / f"{target}-{tool.name}.log")
    for key in FIGURES:
        figures.setdefault(key, None)
    if rebuild_edits == 0:
        why.setdefault("rebuild_median_s", "not measured (--rebuild-edits 0)")
    if why:
        figures["why"] = why
    if len(urls_seen) > 1:
        figures["urls_seen"] = urls_seen  # the app's URL changed during the run
    if run_.command:
        figures["command"] = " ".join([Path(run_.command[0]).name, *run_.command[1:]])
    figures["config"] = {
        k: v for k, v in run_.config.items() if k not in ("daemon_port", "ui_port")
    }
    figures["wall_s"] = round(time.monotonic() - started_at, 1)
    figures["edits"], figures["rebuild_edits"] = edits, rebuild_edits
    figures["idle_seconds"] = idle_seconds
    figures["machine"] = f"{os.cpu_count()} cores, Linux {os.uname().release}"
    return figures


def kubectl(setup: Setup, *args: str, check: bool = True) -> str:
    assert setup.kubectl is not None
    command = [
        str(setup.kubectl),
        "--kubeconfig",
        str(KUBECONFIG),
        "--context",
        KUBE_CONTEXT,
        *args,
    ]
    if check:
        return run(*command)
    subprocess.run(command, capture_output=True, check=False, timeout=300)
    return ""


def cleanup(setup: Setup, run_: Run, prime_tag: str) -> None:
    """Remove what this run created: its containers, namespace and every image tagged with
    its unique name (the tools' tags and the priming tag), whoever tagged it."""
    containers = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"name={run_.name}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    for container in containers:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    subprocess.run(
        ["docker", "network", "rm", f"{run_.name}_default"], capture_output=True, check=False
    )
    if run_.target == "kubernetes" and setup.kubectl is not None:
        kubectl(setup, "delete", "namespace", run_.namespace, "--wait=false", check=False)
    images = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    ours = [
        image
        for image in images
        if image.rsplit(":", 1)[0].rsplit("/", 1)[-1] in (run_.name, prime_tag)
    ]
    if ours:
        subprocess.run(["docker", "rmi", "-f", *ours], capture_output=True, check=False)


# ------------------------------------------------------------------------------------------


def tool_binaries(tools: list[str]) -> tuple[dict[str, Path], str | None]:
    """Skaffold, Tilt, the Helm CLI they drive and Docker's buildx plugin, built once
    (scripts/setup-anchors.sh)."""
    # buildx whatever the tools: every tool's image is primed with BuildKit's `docker build`.
    wanted = [t for t in ("skaffold", "tilt") if t in tools]
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup-anchors.sh"), "helm", "buildx", *wanted],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    bins = {}
    for line in done.stdout.splitlines():
        tool, _, path = line.partition("=")
        if path and Path(path).is_file():
            bins[tool] = Path(path)
    error = None if done.returncode == 0 else done.stderr[-3000:]
    return bins, error


def kubectl_binary() -> Path | None:
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup-cluster.sh"), "--bin"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    path = Path(done.stdout.strip(), "kubectl")
    return path if done.returncode == 0 and path.is_file() else None


def print_table(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    columns = (
        ("sync med", "sync_median_s"),
        ("sync p90", "sync_p90_s"),
        ("rebuild med", "rebuild_median_s"),
        ("rebuild p90", "rebuild_p90_s"),
        ("first", "first_deploy_s"),
        ("idle CPU %", "idle_cpu_pct"),
        ("idle MB", "idle_rss_mb"),
    )
    print()
    print(f"{'target':<12}{'tool':<10}" + "".join(f"{c:>13}" for c, _ in columns))
    for target, tools in results.items():
        for tool, figures in tools.items():
            cells = "".join(
                f"{figures.get(k):>13}" if figures.get(k) is not None else f"{'—':>13}"
                for _, k in columns
            )
            print(f"{target:<12}{tool:<10}{cells}")
            for key, reason in figures.get("why", {}).items():
                print(f"{'':<22}{key}: {reason.splitlines()[0][:200]}")


def markdown_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The README's table: one row per target and tool, seconds and MB, "—" where null."""

    def cell(figures: dict[str, Any], key: str, unit: str = "") -> str:
        value = figures.get(key)
        if value is None:
            return "—"
        failed = key.endswith("median_s") and figures.get(key.replace("median_s", "failed_edits"))
        return f"{value}{unit}" + (f" ({failed} not served)" if failed else "")

    lines = [
        "| target | tool | save → served, median (p90) | rebuild → served, median (p90) "
        "| first deploy | idle CPU | idle memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for target in TARGETS:
        for tool, figures in results.get(target, {}).items():
            sync = cell(figures, "sync_median_s", " s")
            if figures.get("sync_p90_s") is not None:
                sync += f" ({figures['sync_p90_s']} s)"
            rebuild = cell(figures, "rebuild_median_s", " s")
            if figures.get("rebuild_p90_s") is not None:
                rebuild += f" ({figures['rebuild_p90_s']} s)"
            lines.append(
                f"| {target} | {tool} {(figures.get('version') or '').split(',')[0]} | {sync} "
                f"| {rebuild} | "
                f"{cell(figures, 'first_deploy_s', ' s')} | {cell(figures, 'idle_cpu_pct', ' %')} "
                f"| {cell(figures, 'idle_rss_mb', ' MB')} |"
            )
    return "\n".join(lines)


def main() -> None:
    # Started in the background, a shell hands its jobs SIGINT ignored, which the tools would
    # inherit and Ctrl-C-style stops (how each is stopped) would not reach them.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=TARGETS, help="one target (default: both)")
    parser.add_argument("--edits", type=int, default=10, help="app.py edits per tool")
    parser.add_argument(
        "--rebuild-edits", type=int, default=5, help="requirements.txt edits per tool"
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    parser.add_argument("--idle-seconds", type=float, default=20)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--draft-watch-delay",
        type=float,
        default=0,
        help="Draft's watch_delay (default 0, its minimum)",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print the results file as a table; run nothing"
    )
    args = parser.parse_args()
    if args.markdown:
        print(markdown_table(json.loads(args.output.read_text())))
        return
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    targets = [args.only] if args.only else list(TARGETS)

    bins, setup_error = tool_binaries(tools)
    kubectl_path = kubectl_binary() if "kubernetes" in targets else None
    results: dict[str, dict[str, dict[str, Any]]] = {}
    if args.output.exists():  # a partial re-run (--only, --tools) keeps the other figures
        with contextlib.suppress(ValueError):
            results = json.loads(args.output.read_text())
    with tempfile.TemporaryDirectory(prefix="draft-anchors-") as folder:
        work = Path(folder)
        home = work / "home"
        home.mkdir()
        setup = Setup(work, uuid.uuid4().hex[:5], bins, kubectl_path, home, args.draft_watch_delay)
        classes: dict[str, type[Tool]] = {"draft": Draft, "skaffold": Skaffold, "tilt": Tilt}
        for target in targets:
            row = results.setdefault(target, {})
            for name in tools:
                missing = [b for b in {"skaffold": ["skaffold", "helm"], "tilt": ["tilt", "helm"]}
                           .get(name, []) if b not in bins]  # fmt: skip
                if target == "kubernetes" and kubectl_path is None:
                    missing.append("kubectl (bash scripts/setup-cluster.sh)")
                if missing:
                    reason = f"not built: {', '.join(missing)}: {setup_error or ''}".strip()
                    row[name] = {**dict.fromkeys(FIGURES), "version": None, "why": {"all": reason}}
                    print(f"!! {name} on {target}: {reason}", flush=True)
                    continue
                row[name] = measure(
                    classes[name](setup),
                    target,
                    setup,
                    args.edits,
                    args.rebuild_edits,
                    args.idle_seconds,
                )
                args.output.parent.mkdir(parents=True, exist_ok=True)
                args.output.write_text(json.dumps(results, indent=2) + "\n")
        with contextlib.suppress(Exception):
            subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print_table({k: v for k, v in results.items() if k in TARGETS})
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
