"""Tasks run inside the app (`POST .../exec`, post-deploy tasks) are bounded: stopped at their
time limit, their output kept to a megabyte, a few at a time, and the answer says when any of
that happened. A hanging task never slows a deploy."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import pytest_asyncio
from daemon_kit import DOCKERFILE, Daemon
from waiting import until_async

from draftd.services import MAX_TASKS
from draftd.targets.base import MAX_EXEC_OUTPUT, TIMED_OUT

pytestmark = pytest.mark.asyncio
APP = {"Dockerfile": DOCKERFILE, "app.py": b"print('hi')\n"}
EXEC = "/v1/apps/hello/development/exec"


@pytest_asyncio.fixture
async def deployed(daemon: Daemon) -> Daemon:
    assert (await daemon.outcome(await daemon.deploy(APP)))["phase"] == "ready"
    return daemon


async def test_a_task_that_ends_answers_its_code_and_output(deployed: Daemon) -> None:
    status, answer = await deployed.request("POST", EXEC, json={"command": ["false", "nope"]})
    assert (status, answer) == (200, {"exitCode": 3, "output": "nope\n"})


async def test_a_task_past_its_time_limit_is_stopped_and_says_so(deployed: Daemon) -> None:
    started = time.monotonic()
    status, answer = await deployed.request(
        "POST", EXEC, json={"command": ["sleep", "40"], "timeoutSeconds": 0.5}
    )
    assert status == 200
    assert time.monotonic() - started < 3
    assert answer["exitCode"] == TIMED_OUT
    assert answer["cutShort"] == "the task was stopped after 0.5 s, its time limit"
    assert answer["output"].endswith("[draftd: the task was stopped after 0.5 s, its time limit]\n")


async def test_a_task_that_prints_50_mb_answers_a_megabyte_and_says_so(deployed: Daemon) -> None:
    async with deployed.session.post(
        deployed.url + EXEC, json={"command": ["yes", str(50_000_000)]}, headers=deployed.headers
    ) as response:
        raw = await response.read()
    answer = json.loads(raw)
    assert len(answer["output"].encode()) < MAX_EXEC_OUTPUT + 200
    assert answer["exitCode"] == 0
    assert "bytes of the task's output were left out in the middle" in answer["cutShort"]
    assert "bytes left out here]" in answer["output"]
    assert answer["output"].startswith("y\ny\n") and answer["output"].endswith("y\n")


async def test_hanging_tasks_do_not_slow_a_deploy(deployed: Daemon) -> None:
    hanging = [
        asyncio.create_task(
            deployed.request("POST", EXEC, json={"command": ["sleep", "40"], "timeoutSeconds": 30})
        )
        for _ in range(MAX_TASKS)
    ]
    assert deployed.services is not None
    tasks = deployed.services.tasks
    await until_async(tasks.locked, 5, "the hanging tasks never took every task slot")
    status, answer = await deployed.request("POST", EXEC, json={"command": ["echo", "more"]})
    assert status == 429
    assert f"already runs {MAX_TASKS} tasks" in answer["error"]
    started = time.monotonic()
    edited = {**APP, "app.py": b"print('edited')\n"}
    assert (await deployed.outcome(await deployed.deploy(edited)))["phase"] == "ready"
    assert time.monotonic() - started < 2
    for task in hanging:
        task.cancel()
    await asyncio.gather(*hanging, return_exceptions=True)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"command": ["sleep", "1"], "timeoutSeconds": 0}, "timeoutSeconds must be"),
        ({"command": ["sleep", "1"], "timeoutSeconds": 3601}, "up to 3600"),
        ({"command": ["sleep", "1"], "timeoutSeconds": "5"}, "not '5'"),
        ({"command": []}, "non-empty list"),
        ([["x"]], "JSON object"),
    ],
)
async def test_a_malformed_task_is_refused(deployed: Daemon, body: object, says: str) -> None:
    status, answer = await deployed.request("POST", EXEC, json=body)
    assert status == 400
    assert says in answer["error"]
