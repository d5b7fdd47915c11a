"""Builds: ordered, resumable events; the newest save wins; one app's trouble is its own."""

from __future__ import annotations

import asyncio
import time

import pytest
from daemon_kit import DOCKERFILE, Daemon, DaemonFactory, FakeTarget, manifest
from kit import build_settings
from waiting import until_async

from draftd.builder import BuildFailed
from draftd.targets.base import DeployError

pytestmark = pytest.mark.asyncio

APP = {"Dockerfile": DOCKERFILE, "app.py": b"print('Hello World!')\n"}
EDITED = {"Dockerfile": DOCKERFILE, "app.py": b"print('Hello, Draft!')\n"}


def phases(events: list[dict]) -> list[str]:
    return [e["phase"] for e in events if e["kind"] == "phase"]


async def test_events_tell_the_build_story_in_order(daemon: Daemon) -> None:
    build_id = await daemon.deploy(APP, registry="127.0.0.1:5000")
    events = await daemon.events(build_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert phases(events) == ["queued", "uploading", "building", "pushing", "deploying", "ready"]
    assert {e["buildId"] for e in events} == {build_id}
    ready = events[-1]
    assert ready["url"] == f"http://127.0.0.1:18080/{build_id}"
    assert any(e["kind"] == "log" and e["message"] == "Step 1/2 : FROM scratch" for e in events)
    uploading = [e for e in events if e["kind"] == "progress" and e["phase"] == "uploading"]
    assert uploading[-1]["progress"] == {
        "current": sum(map(len, APP.values())),
        "total": sum(map(len, APP.values())),
        "unit": "bytes",
    }
    building = next(e for e in events if e["phase"] == "building")
    assert building["image"].startswith("127.0.0.1:5000/hello:")
    status, summary = await daemon.request("GET", f"/v1/builds/{build_id}")
    assert status == 200 and summary["phase"] == "ready" and summary["url"] == ready["url"]


async def test_the_image_a_target_derives_is_made_beside_the_push_and_deployed(
    daemon: Daemon,
) -> None:
    """The kubernetes target's `-sync` image: made while the built image is pushed (the push
    here waits until the derive has started: one after the other, the build would hang)."""
    daemon.target.derive_suffix = "-sync"
    daemon.builder.push_until = daemon.target.derive_started
    build_id = await daemon.deploy(APP, registry="127.0.0.1:5000")
    ready = await daemon.outcome(build_id)
    assert ready["phase"] == "ready", ready
    (built,) = daemon.builder.pushes
    deployed = next(iter(daemon.target.running.values())).image
    assert deployed == built + "-sync"
    events = await daemon.events(build_id)
    deploying = next(e for e in events if e["kind"] == "phase" and e["phase"] == "deploying")
    assert deploying["image"] == deployed
    assert any(e.get("message") == f"derived {deployed}" for e in events)


@pytest.mark.parametrize("failing", ["derive", "push while the derive runs"])
async def test_a_derive_or_push_that_fails_is_the_builds_failure_in_its_words(
    daemon: Daemon, failing: str
) -> None:
    error = DeployError(f"Docker could not {failing}: refused")
    if failing == "derive":
        daemon.target.derive_error = error
    else:
        daemon.target.derive_until = asyncio.Event()  # never set: the derive still runs
        daemon.builder.push_error = error
    build_id = await daemon.deploy(APP, registry="127.0.0.1:5000")
    failed = await daemon.outcome(build_id)
    assert failed["phase"] == "failed"
    assert failed["message"] == str(error)
    assert daemon.target.deployed == []


async def test_a_held_build_builds_at_once_and_deploys_when_its_hold_ends(
    daemon: Daemon,
) -> None:
    """`holdSeconds`: the watcher's quiet period, spent building."""
    hold = 0.6
    asked = time.monotonic()
    build_id = await daemon.deploy(APP, hold=hold)
    await until_async(lambda: daemon.builder.contexts, 10, "the held build did not build")
    built = time.monotonic()
    ready = await daemon.outcome(build_id)
    assert ready["phase"] == "ready"
    assert built < asked + hold, "the build waited for the hold"
    assert time.monotonic() >= asked + hold, "the deploy did not wait for the hold"
    assert daemon.target.started == [build_id]


async def test_a_save_during_the_hold_supersedes_the_build_before_it_deploys(
    daemon: Daemon,
) -> None:
    first = await daemon.deploy(APP, hold=5)
    await until_async(lambda: daemon.builder.contexts, 10, "the held build did not build")
    second = await daemon.deploy(EDITED)
    assert (await daemon.outcome(first))["phase"] == "superseded"
    assert (await daemon.outcome(second))["phase"] == "ready"
    assert daemon.target.started == [second]


@pytest.mark.parametrize("hold", [-1, 10.5, "1", True, None, 1e300, 10**400, [1]])
async def test_a_hold_that_is_not_a_few_seconds_is_refused(daemon: Daemon, hold: object) -> None:
    body = {
        "app": "hello",
        "environment": "development",
        "manifest": manifest(APP),
        "settings": build_settings("hello"),
        "trigger": "watch",
        "holdSeconds": hold,
    }
    status, answer = await daemon.request("POST", "/v1/builds", json=body)
    assert status == 400
    assert answer["error"].startswith("holdSeconds must be a number of seconds from 0 to 10")


async def test_client_that_disconnects_resumes_where_it_left_off(daemon: Daemon) -> None:
    release = daemon.builder.hold("hello")
    build_id = await daemon.deploy(APP)
    seen = await daemon.events(build_id, limit=3)  # then the connection closes mid-build
    assert [e["seq"] for e in seen] == [1, 2, 3]
    release.set()
    rest = await daemon.events(build_id, after=seen[-1]["seq"])
    story = seen + rest
    assert [e["seq"] for e in story] == list(range(1, len(story) + 1))
    assert story[-1]["phase"] == "ready"
    assert story == await daemon.events(build_id)  # a full replay is the same story


async def test_newer_save_supersedes_the_build_in_flight_which_is_never_deployed(
    daemon: Daemon,
) -> None:
    release = daemon.builder.hold("hello")
    first = await daemon.deploy(APP)
    await until_async(lambda: len(daemon.builder.contexts) == 1, 5)  # the first build is building
    second = await daemon.deploy(EDITED)
    outcome = await daemon.outcome(first)
    assert outcome["phase"] == "superseded"
    assert second in outcome["reason"]
    release.set()
    assert (await daemon.outcome(second))["phase"] == "ready"
    assert daemon.target.started == [second]
    assert daemon.target.deployed == [second]


async def test_build_superseded_while_deploying_finishes_before_the_newer_deploy(
    daemon: Daemon,
) -> None:
    first = await daemon.deploy(APP)
    # The first build's deploy is held: the second build's deploy must wait for it, not overtake it.
    release_first = daemon.target.hold(first)
    await until_async(lambda: daemon.target.started == [first], 5)
    second = await daemon.deploy(EDITED)
    assert (await daemon.outcome(first))["phase"] == "superseded"
    # Built, the newer build goes straight on to wait for the deploy lock the first one holds.
    await until_async(lambda: len(daemon.builder.images) == 2, 5, "the newer build was not built")
    assert daemon.target.started == [first]  # the newer deploy has not started
    release_first.set()
    assert (await daemon.outcome(second))["phase"] == "ready"
    assert daemon.target.deployed == [first, second]  # the newest is deployed last
    status, deployment = await daemon.request("GET", "/v1/apps/hello/development")
    assert (status, deployment["buildId"]) == (200, second)


async def test_many_quick_saves_deploy_only_the_last(daemon: Daemon) -> None:
    release = daemon.builder.hold("hello")
    ids = []
    for number in range(5):
        ids.append(await daemon.deploy({**APP, "app.py": f"print({number})\n".encode()}))
    release.set()
    outcomes = [await daemon.outcome(build_id) for build_id in ids]
    assert [o["phase"] for o in outcomes] == ["superseded"] * 4 + ["ready"]
    assert daemon.target.deployed == [ids[-1]]


async def test_builds_of_different_apps_run_independently(daemon: Daemon) -> None:
    daemon.builder.hold("slow")
    slow = await daemon.deploy(APP, app="slow")
    quick = await daemon.deploy(APP, app="quick")
    assert (await daemon.outcome(quick))["phase"] == "ready"
    status, summary = await daemon.request("GET", f"/v1/builds/{slow}")
    assert (status, summary["phase"]) == (200, "building")
    same_app_other_env = await daemon.deploy(APP, app="slow", environment="staging")
    daemon.builder.holds.pop("slow").set()
    assert (await daemon.outcome(slow))["phase"] == "ready"
    assert (await daemon.outcome(same_app_other_env))["phase"] == "ready"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            BuildFailed("Step 2/3 : RUN pip install flask failed: exit code 1"),
            "Step 2/3 : RUN pip install",
        ),
        (
            RuntimeError("a bug in the builder"),
            "internal error: RuntimeError: a bug in the builder",
        ),
    ],
)
async def test_builder_that_raises_fails_the_build_and_draftd_keeps_serving(
    daemon: Daemon, error: Exception, reason: str
) -> None:
    daemon.builder.failures["hello"] = error
    outcome = await daemon.outcome(await daemon.deploy(APP))
    assert outcome["phase"] == "failed"
    assert reason in outcome["reason"]
    status, health = await daemon.request("GET", "/v1/health")
    assert status == 200 and health["docker"] is True
    del daemon.builder.failures["hello"]
    assert (await daemon.outcome(await daemon.deploy(EDITED)))["phase"] == "ready"


async def test_deploy_error_reports_the_reason_and_the_app_logs(daemon: Daemon) -> None:
    async def crash(request, report):
        raise DeployError(
            "hello exited with code 1 right after starting.",
            "Its logs are above.",
            logs="Traceback\nNameError: x\n",
        )

    daemon.target.deploy = crash
    events = await daemon.events(await daemon.deploy(APP))
    assert events[-1]["phase"] == "failed"
    assert events[-1]["reason"].startswith("hello exited with code 1")
    assert [e["message"] for e in events[-3:-1]] == ["Traceback", "NameError: x"]


async def test_build_args_and_secret_values_never_reach_events(daemon: Daemon) -> None:
    daemon.builder.logs["hello"] = [
        "Step 2/4 : RUN echo hunter2-token",
        "password=s3cr3t-value ok",
        "PYTHON=3.12",
    ]
    build_id = await daemon.deploy(
        APP,
        image_build_args={"API_TOKEN": "hunter2-token"},
        set=["db.password=s3cr3t-value", "replicaCount=2"],
    )
    events = await daemon.events(build_id)
    text = "\n".join(e["message"] + e.get("reason", "") for e in events)
    assert "hunter2-token" not in text and "s3cr3t-value" not in text
    assert "RUN echo ***" in text
    assert "PYTHON=3.12" in text  # only secrets are masked


async def test_cancel_stops_the_build(daemon: Daemon) -> None:
    daemon.builder.hold("hello")
    build_id = await daemon.deploy(APP)
    await until_async(lambda: len(daemon.builder.contexts) == 1, 5)
    status, answer = await daemon.request("POST", f"/v1/builds/{build_id}/cancel")
    assert (status, answer) == (200, {"phase": "failed"})
    assert (await daemon.outcome(build_id))["reason"] == "the build was cancelled"
    assert daemon.target.started == []


async def test_port_comes_from_the_chart_then_the_dockerfile(daemon: Daemon) -> None:
    ports = []
    original = daemon.target.deploy

    async def deploy(request, report):
        ports.append(request.port)
        assert request.chart_dir is None or request.chart_dir.startswith(str(daemon.state))
        return await original(request, report)

    daemon.target.deploy = deploy
    chart = {"Chart.yaml": b"name: hello\n", "values.yaml": b"containerPort: 9000\n"}
    await daemon.outcome(await daemon.deploy(APP, chart=chart))
    await daemon.outcome(await daemon.deploy(EDITED))
    assert ports == [9000, 5000]


async def test_auto_target_is_kubernetes_when_it_answers_else_docker(
    daemons: DaemonFactory,
) -> None:
    kubernetes = FakeTarget("kubernetes")
    daemon = await daemons.start(targets={"kubernetes": kubernetes})
    kubernetes.is_available = False
    await daemon.outcome(await daemon.deploy(APP, target="auto"))
    kubernetes.is_available = True
    await daemon.outcome(await daemon.deploy(EDITED, target="auto"))
    assert len(daemon.target.deployed) == 1 and len(kubernetes.deployed) == 1
    status, deployment = await daemon.request("GET", "/v1/apps/hello/development")
    assert (status, deployment["target"]) == (200, "kubernetes")
    assert daemon.target.running == {}  # moving to kubernetes removed the docker container


async def test_apps_endpoints_follow_the_target_the_app_went_to(daemon: Daemon) -> None:
    build_id = await daemon.deploy(APP)
    await daemon.outcome(build_id)
    assert (daemon.state / "apps" / "hello" / "development.json").is_file()
    status, listed = await daemon.request("GET", "/v1/apps")
    assert [(d["app"], d["state"], d["buildId"]) for d in listed] == [
        ("hello", "running", build_id)
    ]
    status, logs = await daemon.request("GET", "/v1/apps/hello/development/logs?tail=3")
    assert logs == "hello line 0\nhello line 1\nhello line 2\n"
    status, connected = await daemon.request(
        "POST", "/v1/apps/hello/development/connect", json={"localPort": 9999}
    )
    assert connected == {"url": "http://127.0.0.1:9999"}
    status, deleted = await daemon.request("DELETE", "/v1/apps/hello/development")
    assert deleted == {"deleted": True, "prunedImages": []}
    status, answer = await daemon.request("GET", "/v1/apps/hello/development")
    assert status == 404 and "Nothing is deployed for hello" in answer["error"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("GET", "/v1/nothing", None, 404, "no endpoint"),
        ("GET", "/v1/builds/b-unknown", None, 404, "no build"),
        ("GET", "/v1/builds/b-unknown/events", None, 404, "no build"),
        ("GET", "/v1/apps/Not_A_Name/development", None, 400, "DNS-1123"),
        ("POST", "/v1/builds", b"{not json", 400, "not JSON"),
        ("POST", "/v1/builds", b'{"app": "hello"}', 400, "environment"),
    ],
)
async def test_errors_are_json_with_a_hint(
    daemon: Daemon, method, path, body, status, words
) -> None:
    headers = {**daemon.headers, "Content-Type": "application/json"}
    got, answer = await daemon.request(method, path, data=body, headers=headers)
    assert got == status
    assert words in answer["error"] and "hint" in answer


async def test_a_bug_in_a_handler_is_a_json_500_and_draftd_keeps_serving(daemon: Daemon) -> None:
    await daemon.outcome(await daemon.deploy(APP))

    async def broken(key, local_port):
        raise RuntimeError("oops")

    daemon.target.connect = broken
    status, answer = await daemon.request("POST", "/v1/apps/hello/development/connect")
    assert status == 500 and "internal error" in answer["error"]
    assert (await daemon.request("GET", "/v1/health"))[0] == 200
