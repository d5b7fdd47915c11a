"""`/v1/apps`: status, logs, connect and delete for what draftd deployed, through its target.

For an app draftd deployed, the target it went to is on record (`draftd.app_records`);
for one it has no record of (its state folder was wiped), each target is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Mapping

from aiohttp import web

from draft.errors import DraftError, quoted
from draftd.app_records import AppRecord
from draftd.builds import TooBusy
from draftd.buildspec import RequestRefused, app_key
from draftd.model import AppKey, Deployment
from draftd.services import MAX_TASKS, Services, int_query, json_body, services
from draftd.targets.base import EXEC_TIMEOUT, MAX_EXEC_OUTPUT, DeployTarget
from draftd.wire import Connected, Deleted, ExecResult, HistoryEntry, Phase

log = logging.getLogger(__name__)
STATUS_TIMEOUT = 15.0
MAX_TAIL = 100_000
ERROR_MARK = "Draft-Error-Mark"
"""Header of a logs answer: the random mark that starts the line of an error met while
streaming (the status is sent by then), so a client tells it from the app's own output."""
MAX_EXEC_TIMEOUT = 3600


class AppNotFound(DraftError):
    """Nothing is deployed for that app and environment."""


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/apps", list_apps)
    router.add_get("/v1/apps/{app}/{env}", app_status)
    router.add_delete("/v1/apps/{app}/{env}", delete_app)
    router.add_get("/v1/apps/{app}/{env}/logs", app_logs)
    router.add_post("/v1/apps/{app}/{env}/connect", connect_app)
    router.add_get("/v1/apps/{app}/{env}/history", app_history)
    router.add_post("/v1/apps/{app}/{env}/exec", exec_in_app)


async def list_apps(request: web.Request) -> web.Response:
    found = services(request)
    targets = found.pipeline.targets
    statuses = await asyncio.gather(*(_recorded(targets, record) for record in found.apps.all()))
    return web.json_response([d.to_json() for d in statuses])


async def _recorded(targets: Mapping[str, DeployTarget], record: AppRecord) -> Deployment:
    target = targets.get(record.target)
    if target is not None:
        return await _status(target, record.key)
    detail = f"this draftd runs without the {record.target} target the app was deployed to"
    return Deployment(
        record.key, record.target, record.url, record.image, record.build_id, "unknown", detail
    )


async def app_status(request: web.Request) -> web.Response:
    key = _key(request)
    _, deployment = await _locate(services(request), key)
    return web.json_response(deployment.to_json())


async def delete_app(request: web.Request) -> web.Response:
    """Stop any build in flight for the app (it would deploy again), then remove it; with
    `?pruneImages=N`, its images too but the newest N."""
    found, key = services(request), _key(request)
    keep = int_query(request, "pruneImages", -1, 0, 1000)
    for build in found.builds.running():
        if build.key == key:
            build.stop(Phase.FAILED, "cancelled: the app was deleted", "the app was deleted")
    record = found.apps.get(key)
    targets = found.pipeline.targets
    chosen = [targets[record.target]] if record and record.target in targets else targets.values()
    deleted = False
    for target in chosen:
        deleted = await target.delete(key) or deleted
    found.apps.forget(key)
    pruned = await found.pipeline.prune_images(key.app, keep) if keep >= 0 else []
    answer: Deleted = {"deleted": deleted, "prunedImages": pruned}
    return web.json_response(answer)


async def app_logs(request: web.Request) -> web.StreamResponse:
    """The app's output as text lines; with ?follow=1 until the client goes away."""
    found, key = services(request), _key(request)
    follow = request.query.get("follow", "").lower() in ("1", "true", "yes")
    tail = int_query(request, "tail", 100, 0, MAX_TAIL)
    target, _ = await _locate(found, key)
    lines = target.logs(key, follow=follow, tail=tail)
    mark = secrets.token_hex(8)
    response = web.StreamResponse(headers={"Cache-Control": "no-cache", ERROR_MARK: mark})
    response.content_type = "text/plain"
    response.charset = "utf-8"
    await response.prepare(request)
    try:
        async for line in lines:
            await response.write(line.rstrip("\n").encode("utf-8", "replace") + b"\n")
    except DraftError as error:
        problem = json.dumps({"error": error.message, "hint": error.hint})
        await response.write(f"{mark} draftd: {problem}\n".encode())
    except ConnectionResetError:
        return response
    finally:
        close = getattr(lines, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
    await response.write_eof()
    return response


async def app_history(request: web.Request) -> web.Response:
    """The app's builds, newest first, as draftd kept them (bounded, across restarts)."""
    found, key = services(request), _key(request)
    history = found.pipeline.history
    entries: list[HistoryEntry] = []
    if history is not None:
        entries = await asyncio.to_thread(history.builds, key)
    return web.json_response(entries)


async def exec_in_app(request: web.Request) -> web.Response:
    """Run a command inside the deployed app (post-deploy tasks): `{command, timeoutSeconds?}`.

    Bounded: the task is stopped at its time limit, its output kept to `MAX_EXEC_OUTPUT`
    bytes, and at most `MAX_TASKS` run at once; `cutShort` says when any of it happened.
    """
    found, key = services(request), _key(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise RequestRefused("The body must be a JSON object with command.")
    command = body.get("command")
    if not (isinstance(command, list) and command and all(isinstance(w, str) for w in command)):
        raise RequestRefused("command must be a non-empty list of strings.")
    timeout = body.get("timeoutSeconds", EXEC_TIMEOUT)
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not (0 < timeout <= MAX_EXEC_TIMEOUT)
    ):
        raise RequestRefused(
            f"timeoutSeconds must be a number of seconds up to {MAX_EXEC_TIMEOUT}, "
            f"not {quoted(timeout)}."
        )
    target, _ = await _locate(found, key)
    if found.tasks.locked():
        raise TooBusy(
            f"draftd already runs {MAX_TASKS} tasks inside apps.",
            "Wait for one to end, then run the task again.",
        )
    async with found.tasks:
        result = await target.exec(key, command, timeout=timeout, limit=MAX_EXEC_OUTPUT)
    answer: ExecResult = {"exitCode": result.exit_code, "output": result.output}
    if result.cut_short:
        answer["cutShort"] = result.cut_short
    return web.json_response(answer)


async def connect_app(request: web.Request) -> web.Response:
    found, key = services(request), _key(request)
    local_port = await _local_port(request)
    target, _ = await _locate(found, key)
    url = await target.connect(key, local_port)
    connected: Connected = {"url": url}
    return web.json_response(connected)


async def _local_port(request: web.Request) -> int | None:
    body = await json_body(request)
    port = body.get("localPort") if isinstance(body, dict) else None
    if port is None:
        return None
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise RequestRefused(f"localPort must be a port number (1-65535), not {quoted(port)}.")
    return port


def _key(request: web.Request) -> AppKey:
    return app_key(request.match_info["app"], request.match_info["env"])


async def _locate(found: Services, key: AppKey) -> tuple[DeployTarget, Deployment]:
    """The target running `key` and what it says, or `AppNotFound`."""
    targets = found.pipeline.targets
    record = found.apps.get(key)
    if record is not None and record.target in targets:
        candidates = [targets[record.target]]
    else:
        candidates = list(targets.values())
    for target in candidates:
        deployment = await _status(target, key)
        if deployment.state != "absent":
            return target, deployment
    raise AppNotFound(
        f"Nothing is deployed for {key.app} in environment {key.environment}.",
        "Run `draft up` to deploy it.",
    )


async def _status(target: DeployTarget, key: AppKey) -> Deployment:
    """What `target` says of `key`; "unknown" (with why) when it fails to say."""
    try:
        return await asyncio.wait_for(target.status(key), STATUS_TIMEOUT)
    except TimeoutError:
        detail = f"the {target.name} target did not answer within {STATUS_TIMEOUT:g} s"
    except DraftError as error:
        detail = str(error)
    except Exception as error:
        log.exception("the %s target failed to report %s", target.name, key)
        detail = f"internal error: {type(error).__name__}"
    return Deployment(key, target.name, None, None, None, "unknown", detail)
