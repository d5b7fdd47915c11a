"""A page the developer visits can reach draftd on loopback; it must never drive it.

A cross-site request (a foreign `Origin`, or a text/plain body, which needs no CORS
preflight) and a DNS-rebinding request (a foreign `Host` that resolves to 127.0.0.1) are
refused before any handler runs, whatever token they carry. And whoever sends a build, it
writes only its own app's image tags: never `python:3.12-slim`, the base of every build.
"""

from __future__ import annotations

import json

import pytest
from daemon_kit import DOCKERFILE, Daemon, manifest, settings

from draftd.builder import APP_LABEL
from draftd.model import Image

pytestmark = pytest.mark.asyncio
APP = {"Dockerfile": DOCKERFILE, "app.py": b"print('hi')\n"}


def port(daemon: Daemon) -> str:
    return daemon.url.rsplit(":", 1)[1]


def build_body(app: str = "hello", **overrides: object) -> dict:
    return {
        "app": app,
        "environment": "development",
        "manifest": manifest(APP),
        "settings": settings(app, **overrides),
        "trigger": "save",
    }


async def builds_of(daemon: Daemon, app: str = "hello") -> list:
    status, history = await daemon.request("GET", f"/v1/apps/{app}/development/history")
    assert status == 200
    return list(history)


@pytest.mark.parametrize(
    "origin",
    [
        "https://attacker.example",
        "http://attacker.example:{port}",
        "http://localhost.attacker.example:{port}",
        "null",  # a sandboxed frame, a file:// page
        "http://127.0.0.1:1",  # another server on this machine, the app under development say
        "http://127.0.0.1:{port}/page",
        "http://127.0.0.1:{port}, https://attacker.example",
    ],
)
async def test_a_page_from_another_origin_cannot_run_a_command_in_the_app(
    daemon: Daemon, origin: str
) -> None:
    headers = {**daemon.headers, "Origin": origin.format(port=port(daemon))}
    for content_type in ("text/plain", "application/json"):
        status, answer = await daemon.request(
            "POST",
            "/v1/apps/hello/development/exec",
            data=json.dumps({"command": ["id"]}),
            headers={**headers, "Content-Type": content_type},
        )
        assert status == 403, answer
        assert "refuses requests from the web page" in answer["error"]
        assert "never a web page" in answer["hint"]
    status, answer = await daemon.request("POST", "/v1/builds", json=build_body(), headers=headers)
    assert status == 403
    assert await builds_of(daemon) == []


async def test_draftds_own_origin_and_no_origin_are_answered(daemon: Daemon) -> None:
    for origin in (f"http://127.0.0.1:{port(daemon)}", f"http://localhost:{port(daemon)}"):
        status, _ = await daemon.request(
            "GET", "/v1/apps", headers={**daemon.headers, "Origin": origin}
        )
        assert status == 200, origin
    status, _ = await daemon.request("GET", "/v1/apps")
    assert status == 200


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example:{port}",  # DNS rebinding: the page's own name, resolved to 127.0.0.1
        "attacker.example",
        "127.0.0.1.nip.io:{port}",
        "localhost.:{port}",
        "sub.localhost:{port}",
        "127.0.0.1:1",  # a loopback address, another port: not draftd's own name
        "127.0.0.1",
        "[::2]:{port}",
        "127.0.0.1:{port}:80",
        "127.0.0.1:+{port}",
        "",
    ],
)
async def test_a_dns_rebinding_page_cannot_read_or_drive_the_api(daemon: Daemon, host: str) -> None:
    headers = {**daemon.headers, "Host": host.format(port=port(daemon))}
    for method, path, body in [
        ("GET", "/v1/apps", None),
        ("GET", "/v1/health", None),
        ("POST", "/v1/builds", build_body()),
    ]:
        status, answer = await daemon.request(method, path, json=body, headers=headers)
        assert status == 403, (host, path, answer)
        assert "refuses the request for host" in answer["error"]
    assert await builds_of(daemon) == []


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LocalHost:{port}"])
async def test_loopback_names_with_draftds_port_are_answered(daemon: Daemon, host: str) -> None:
    headers = {**daemon.headers, "Host": host.format(port=port(daemon))}
    status, _ = await daemon.request("GET", "/v1/apps", headers=headers)
    assert status == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
async def test_a_build_body_that_is_not_declared_json_is_refused(
    daemon: Daemon, content_type: str | None
) -> None:
    headers = dict(daemon.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    status, answer = await daemon.request(
        "POST", "/v1/builds", data=json.dumps(build_body()).encode(), headers=headers
    )
    assert status == 415, answer
    assert "application/json" in answer["error"]
    assert await builds_of(daemon) == []


async def test_settings_name_must_be_the_app_the_build_is_for(daemon: Daemon) -> None:
    body = build_body("hello") | {"settings": settings("python")}
    status, answer = await daemon.request("POST", "/v1/builds", json=body)
    assert status == 400
    assert "settings.name 'python' is not the app 'hello'" in answer["error"]


@pytest.mark.parametrize("registry", ["", "docker.io/library"])
async def test_a_build_cannot_retag_a_base_image(daemon: Daemon, registry: str) -> None:
    repository = f"{registry}/python" if registry else "python"
    base = Image(repository, "3.12-slim")
    daemon.builder.images[base] = {"maintainer": "not draft"}  # the official image, pulled
    created = await daemon.post_build(
        APP, app="python", custom_tags=["3.12-slim"], registry=registry
    )
    await daemon.upload(APP, created["missing"])
    outcome = await daemon.outcome(created["buildId"])
    assert outcome["phase"] == "failed"
    assert f"will not move the tag {repository}:3.12-slim" in outcome["reason"]
    assert daemon.builder.images[base] == {"maintainer": "not draft"}
    assert daemon.builder.pushes == []


async def test_a_custom_tag_moves_from_one_build_of_the_app_to_the_next(daemon: Daemon) -> None:
    first = await daemon.deploy(APP, custom_tags=["latest"])
    assert (await daemon.outcome(first))["phase"] == "ready"
    changed = {**APP, "app.py": b"print('again')\n"}
    second = await daemon.deploy(changed, custom_tags=["latest"])
    assert (await daemon.outcome(second))["phase"] == "ready"
    assert daemon.builder.images[Image("hello", "latest")] == {APP_LABEL: "hello"}


async def test_a_custom_tag_of_another_apps_image_is_not_moved(daemon: Daemon) -> None:
    await daemon.outcome(await daemon.deploy(APP, app="other", custom_tags=["latest"]))
    # "other"'s image is labelled for "other": a build of "hello" under that name is refused.
    theirs = Image("other", "latest")
    daemon.builder.images[Image("hello", "latest")] = daemon.builder.images[theirs]
    changed = {**APP, "app.py": b"print('mine')\n"}
    outcome = await daemon.outcome(await daemon.deploy(changed, custom_tags=["latest"]))
    assert outcome["phase"] == "failed"
    assert "did not build for hello" in outcome["reason"]
