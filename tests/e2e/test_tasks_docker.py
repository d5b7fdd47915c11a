"""Tasks around a deploy, for real: a [pre-up] task's file ends up in the image, a failing
[pre-up] task stops the up naming itself and its exit code, a [post-deploy] task runs inside
the running container, and `draft delete` runs [cleanup]. A task past its time limit
(`POST .../exec`) is gone from the container, its children too, whether or not draftd may
signal the engine's processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
import pytest
from kit import Draftd, scaffold
from waiting import until

from draftd.model import AppKey
from draftd.targets import docker as docker_target
from draftd.targets.base import MAX_EXEC_OUTPUT, TIMED_OUT

pytestmark = pytest.mark.docker


def test_pre_up_post_deploy_and_cleanup_tasks(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient
) -> None:
    app = scaffold(tmp_path / "app", "tasks-app")
    (app / ".draft-tasks.toml").write_text(
        "[pre-up]\n"
        "generate = \"sh -c 'echo generated-by-pre-up > generated.txt'\"\n"
        "[post-deploy]\n"
        "migrate = \"sh -c 'echo migrated > /tmp/migrated && echo migration done'\"\n"
        "[cleanup]\n"
        "forget = \"sh -c 'echo cleaned > cleanup.txt'\"\n"
    )
    result = draftd.draft("up", str(app), "--no-watch")
    assert result.returncode == 0, result.stderr
    assert "task pre-up/generate" in result.stderr and "migration done" in result.stderr

    container = docker_engine.containers.get("draft-tasks-app-development")
    assert container.exec_run(["cat", "/app/generated.txt"]).output == b"generated-by-pre-up\n"
    assert container.exec_run(["cat", "/tmp/migrated"]).output == b"migrated\n"

    assert draftd.draft("delete", str(app)).returncode == 0
    assert (app / "cleanup.txt").read_text() == "cleaned\n"


def test_a_failing_pre_up_task_stops_the_up(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "tasks-app")
    (app / ".draft-tasks.toml").write_text(
        "[pre-up]\ncodegen = \"sh -c 'echo cannot generate; exit 3'\"\n"
    )
    result = draftd.draft("up", str(app), "--no-watch")
    assert result.returncode == 1
    assert "The pre-up task codegen failed with exit code 3." in result.stderr
    assert "cannot generate" in result.stderr
    assert "Traceback" not in result.stderr
    assert draftd.draft("history", str(app), "-o", "json").stdout.strip() == "[]", (
        "nothing was built"
    )


def test_a_failing_post_deploy_task_fails_the_up(tmp_path: Path, draftd: Draftd) -> None:
    app = scaffold(tmp_path / "app", "tasks-app")
    (app / ".draft-tasks.toml").write_text("[post-deploy]\nmigrate = \"sh -c 'exit 4'\"\n")
    result = draftd.draft("up", str(app), "--no-watch")
    assert result.returncode == 1
    assert "The post-deploy task migrate failed with exit code 4." in result.stderr


def test_watching_does_not_loop_on_what_a_pre_up_task_writes(
    tmp_path: Path, draftd: Draftd
) -> None:
    """A pre-up task rewrites generated.txt on every up; watching sees that write, but the
    app is unchanged, so it is not built or deployed again."""
    import json

    from kit import read_line, stop
    from waiting import until

    app = scaffold(tmp_path / "app", "tasks-app", watch_delay=0.1)
    (app / ".draft-tasks.toml").write_text(
        "[pre-up]\ngenerate = \"sh -c 'echo same > generated.txt'\"\n"
    )
    generated = app / "generated.txt"
    watching = draftd.draft_background("up", str(app), "--watch")
    try:
        assert read_line(watching.stdout).startswith("http://127.0.0.1:")
        # The task's write after the first up is seen: the watcher runs the task again (a
        # new write), and again — each time finding the app unchanged, or this would build.
        for _ in range(2):
            written = generated.stat().st_mtime_ns
            until(
                lambda then=written: generated.stat().st_mtime_ns != then,
                30,
                "the watcher did not run the pre-up task again",
            )
    finally:
        _, said = stop(watching)
    builds = json.loads(draftd.draft("history", str(app), "-o", "json").stdout)
    assert len(builds) == 1, builds
    assert said.count("sending the build to draftd") == 1, "only the first up sends a build"


def task_processes(container: Any, marker: str) -> list[str]:
    """The container's processes whose command line has `marker` (`docker top`: the engine
    lists them, no `ps` in the image needed)."""
    listed = container.top()
    column = listed["Titles"].index("CMD")
    return [row[column] for row in listed["Processes"] if marker in row[column]]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["sleep", "3001"], id="the-task"),
        pytest.param(["sh", "-c", "echo started; sleep 3002; echo never"], id="its-children"),
        pytest.param(["sh", "-c", "sleep 3003 & sleep 3003 & wait"], id="in-the-background"),
    ],
)
def test_a_task_past_its_time_limit_is_gone_from_the_container(
    tmp_path: Path, draftd: Draftd, docker_engine: docker.DockerClient, command: list[str]
) -> None:
    app = scaffold(tmp_path / "app", "slow-task")
    assert draftd.draft("up", str(app), "--no-watch").returncode == 0
    container = docker_engine.containers.get("draft-slow-task-development")
    marker = next(word for word in command[-1].split() if word.startswith("300"))
    answer = draftd.task_past_its_limit("slow-task", command)
    if "started" in command[-1]:
        assert "started" in answer["output"]
    until(
        lambda: not task_processes(container, f"sleep {marker}"),
        10,
        lambda: f"still running in the container: {task_processes(container, marker)}",
    )
    assert draftd.draft("delete", str(app)).returncode == 0


@pytest.mark.asyncio
async def test_a_task_is_stopped_from_inside_when_draftd_cannot_signal_the_engine(
    tmp_path: Path,
    draftd: Draftd,
    docker_engine: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A draftd that may not signal the engine's processes (a rootless or remote engine, a
    draftd in a container of its own) stops a task from inside the app's container."""
    app = scaffold(tmp_path / "app", "slow-task")
    assert draftd.draft("up", str(app), "--no-watch").returncode == 0
    container = docker_engine.containers.get("draft-slow-task-development")

    def refused(pid: int, signum: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(docker_target.os, "kill", refused)
    monkeypatch.setattr(docker_target, "HOST_PROC", tmp_path / "no-proc")
    target = docker_target.DockerTarget()
    started = time.monotonic()
    result = await target.exec(
        AppKey("slow-task", "development"),
        ["sh", "-c", "echo started; sleep 3004"],
        timeout=2,
        limit=MAX_EXEC_OUTPUT,
    )
    assert time.monotonic() - started < 15
    assert result.exit_code == TIMED_OUT and "stopped after 2 s" in (result.cut_short or "")
    assert "started" in result.output
    until(
        lambda: not task_processes(container, "sleep 3004"),
        10,
        lambda: f"still running in the container: {task_processes(container, '3004')}",
    )
    assert draftd.draft("delete", str(app)).returncode == 0
