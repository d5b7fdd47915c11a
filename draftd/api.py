"""draftd's HTTP API (docs/draftd-api.md): the aiohttp app, its auth and its JSON errors.

Handlers are thin: they check what arrives, hand it to the build registry, the
pipeline or a target, and answer JSON. `create_app` takes the builder and the
targets as parameters, so tests run the same app with their own.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

from draft import __version__
from draft.errors import DraftError
from draftd import apps_api
from draftd.app_records import AppRecords
from draftd.blobs import DEFAULT_MAX_BLOB, BlobStore, BlobTooLarge, check_digest
from draftd.builder import Builder
from draftd.builds import BuildNotFound, BuildRegistry, TooBusy
from draftd.buildspec import parse_build_request
from draftd.contexts import blob_digests, context_tag
from draftd.guard import ForeignRequest, NotJSON, is_loopback, refuse_web_pages
from draftd.history import BuildHistory
from draftd.pipeline import PRUNE_QUIET, UPLOAD_TIMEOUT, Pipeline, answers
from draftd.redact import redactor
from draftd.services import SERVICES, Services, int_query, json_body, services
from draftd.targets.base import DeployError, DeployTarget, ServesApps, TargetUnavailable
from draftd.wire import BlobStored, BuildCreated, Cancelled, ErrorJSON, HealthJSON, Phase

log = logging.getLogger(__name__)

MAX_JSON = 64 * 1024 * 1024
MAX_ERROR = 400
BLOB_GC_AGE = 30 * 24 * 3600.0
"""Blobs no build used for that long are deleted."""
UPLOAD_GC_AGE = 3600.0
"""Partial uploads not written to for that long are deleted (all of them when draftd starts)."""
GC_INTERVAL = 3600.0
AUTHORIZED = web.RequestKey("authorized", bool)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


_STATUS: tuple[tuple[type[DraftError], int], ...] = (
    (ForeignRequest, 403),
    (NotJSON, 415),
    (BlobTooLarge, 413),
    (BuildNotFound, 404),
    (TooBusy, 429),
    (apps_api.AppNotFound, 404),
    (TargetUnavailable, 503),
    (DeployError, 502),
)


def create_app(
    state_dir: Path,
    builder: Builder,
    targets: Mapping[str, DeployTarget],
    token: str,
    *,
    host: str = "127.0.0.1",
    max_blob: int = DEFAULT_MAX_BLOB,
    upload_timeout: float = UPLOAD_TIMEOUT,
    prune_quiet: float = PRUNE_QUIET,
) -> web.Application:
    """The daemon's app over `state_dir`; it refuses to serve without a token, on loopback too.

    Any program of any user on this machine, and any web page in its browser, can reach
    a loopback port: the token (in the 0700 state folder) is what says a client is the
    developer's own `draft`.
    """
    if not token:
        where = "on loopback" if is_loopback(host) else f"on {host}"
        raise DraftError(
            f"draftd will not listen {where} without a token.",
            "Pass --token or set DRAFTD_TOKEN (draftd generates one when started as a command).",
        )
    work = state_dir / "builds"
    shutil.rmtree(work, ignore_errors=True)  # folders of builds a previous run left behind
    work.mkdir(parents=True)
    history = BuildHistory(state_dir / "history")
    if interrupted := history.recover():
        log.info("recorded %d builds a previous draftd left unfinished as interrupted", interrupted)
    pipeline = Pipeline(
        blobs=BlobStore(state_dir / "blobs", max_blob),
        builder=builder,
        targets=dict(targets),
        builds=BuildRegistry(),
        apps=AppRecords(state_dir / "apps"),
        work=work,
        upload_timeout=upload_timeout,
        history=history,
        prune_quiet=prune_quiet,
    )
    app = web.Application(middlewares=[_errors, refuse_web_pages, _auth], client_max_size=MAX_JSON)
    app[SERVICES] = Services(pipeline, token)
    app.router.add_get("/v1/health", health)
    app.router.add_post("/v1/builds", create_build)
    app.router.add_put("/v1/blobs/{digest}", put_blob)
    app.router.add_get("/v1/builds/{id}", build_status)
    app.router.add_get("/v1/builds/{id}/events", build_events)
    app.router.add_post("/v1/builds/{id}/cancel", cancel_build)
    app.router.add_get("/v1/builds/{id}/log", build_log)
    apps_api.add_routes(app.router)
    app.cleanup_ctx.append(_collecting_garbage)
    app.cleanup_ctx.append(_serving_apps)
    app.on_shutdown.append(_stop_builds)
    return app


def error_response(status: int, error: str, hint: str = "") -> web.Response:
    """The JSON error answer; a sentence quoting too much of a request is cut short."""
    if len(error) > MAX_ERROR:
        error = error[: MAX_ERROR - 1] + "…"
    body: ErrorJSON = {"error": error, "hint": hint}
    return web.json_response(body, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure answers JSON: our errors as 4xx/5xx with their hint, bugs as 500."""
    try:
        return await handler(request)
    except DraftError as error:
        status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
        return error_response(status, error.message, error.hint)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, _http_error(request, error), "See docs/draftd-api.md.")
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("%s %s failed on a bug", request.method, request.path)
        return error_response(
            500, "draftd hit an internal error.", "Its log has the details; please report it."
        )


def _http_error(request: web.Request, error: web.HTTPException) -> str:
    if error.status == 404:
        return f"draftd has no endpoint {request.method} {request.path}."
    if error.status == 405:
        return f"{request.path} does not take {request.method}."
    if error.status == 413:
        return f"The request body is larger than the {MAX_JSON // (1024 * 1024)} MiB draftd takes."
    return error.reason


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request must carry the token; health answers anyone, without details."""
    token = services(request).token
    sent = request.headers.get("Authorization", "")
    scheme, _, credential = sent.partition(" ")
    valid = scheme.lower() == "bearer" and hmac.compare_digest(
        credential.strip().encode(), token.encode()
    )
    request[AUTHORIZED] = valid
    if valid or request.path == "/v1/health":
        return await handler(request)
    error = "This draftd needs its token." if not sent else "The token sent to draftd is wrong."
    return error_response(
        401,
        error,
        "Send Authorization: Bearer <token>: the draft command reads it from draftd's state "
        "folder (DRAFTD_STATE), or set DRAFTD_TOKEN to the token draftd was started with.",
    )


async def health(request: web.Request) -> web.Response:
    body: HealthJSON = {"version": __version__}
    if request[AUTHORIZED]:
        targets = services(request).pipeline.targets
        docker, kubernetes = await asyncio.gather(
            *(_answers(targets.get(name)) for name in ("docker", "kubernetes"))
        )
        body["docker"], body["kubernetes"] = docker, kubernetes
    return web.json_response(body)


async def _answers(target: DeployTarget | None) -> bool:
    return target is not None and await answers(target)


async def create_build(request: web.Request) -> web.Response:
    """Register the build (superseding the one in flight) and say which blobs to upload."""
    found = services(request)
    body = await json_body(request)
    max_blob = found.blobs.max_size
    spec = await asyncio.to_thread(parse_build_request, body, max_blob=max_blob)
    settings = spec.settings
    tag = context_tag(spec.files, settings)
    redact = redactor(settings["image_build_args"], settings["set"], [found.token])
    build = found.builds.start(spec, tag, redact)
    build.run(found.pipeline.run(build))
    digests = blob_digests([*spec.files, *(spec.chart or ())])
    missing = await asyncio.to_thread(found.blobs.missing, digests)
    log.info(
        "build %s of %s: %d files, %d to upload", build.id, spec.key, len(digests), len(missing)
    )
    created: BuildCreated = {"buildId": build.id, "missing": missing, "tag": tag}
    return web.json_response(created, status=202)


async def put_blob(request: web.Request) -> web.Response:
    """Store one blob, streamed; an already stored one is not read again."""
    store = services(request).blobs
    digest = check_digest(request.match_info["digest"])
    if store.has(digest):
        stored: BlobStored = {"digest": digest, "size": store.size(digest)}
        return web.json_response(stored, status=201)
    chunks = request.content.iter_chunked(1024 * 1024)
    size = await store.put(digest, chunks, declared_size=request.content_length)
    stored = {"digest": digest, "size": size}
    return web.json_response(stored, status=201)


async def build_status(request: web.Request) -> web.Response:
    build = services(request).builds.get(request.match_info["id"])
    return web.json_response(build.status())


async def build_events(request: web.Request) -> web.StreamResponse:
    """NDJSON, one event a line, flushed as it happens, until the build ends."""
    build = services(request).builds.get(request.match_info["id"])
    after = int_query(request, "after", 0, 0, 2**62)
    response = web.StreamResponse(headers={"Cache-Control": "no-cache"})
    response.content_type = "application/x-ndjson"
    await response.prepare(request)
    try:
        async for event in build.events(after):
            await response.write(json.dumps(event.to_json()).encode() + b"\n")
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away; the build goes on
    return response


async def build_log(request: web.Request) -> web.Response:
    """A build's whole output, from draftd's history (also after it restarted)."""
    history = services(request).pipeline.history
    if history is None:
        raise BuildNotFound("This draftd keeps no history.")
    text = await asyncio.to_thread(history.log, request.match_info["id"])
    return web.Response(text=text, content_type="text/plain")


async def cancel_build(request: web.Request) -> web.Response:
    build = services(request).builds.get(request.match_info["id"])
    build.stop(Phase.FAILED, "cancelled", "the build was cancelled")
    cancelled: Cancelled = {"phase": build.phase.value}
    return web.json_response(cancelled)


async def _serving_apps(app: web.Application) -> AsyncIterator[None]:
    """Serve again the apps draftd deployed where it serves them itself (the docker target's
    app ports); stop serving them when draftd stops."""
    pipeline = app[SERVICES].pipeline
    records = await asyncio.to_thread(pipeline.apps.all)
    serving = [t for t in pipeline.targets.values() if isinstance(t, ServesApps)]
    for target in serving:
        await target.resume([r.key for r in records if r.target == target.name])
    yield
    for target in serving:
        await target.close()


async def _collecting_garbage(app: web.Application) -> AsyncIterator[None]:
    """Collect garbage now (every partial upload is stale: none is under way yet), then hourly."""
    blobs = app[SERVICES].blobs
    await _collect(blobs, uploads_older_than=0)

    async def hourly() -> None:
        while True:
            await asyncio.sleep(GC_INTERVAL)
            await _collect(blobs, uploads_older_than=UPLOAD_GC_AGE)

    task = asyncio.create_task(hourly(), name="draftd garbage collection")
    yield
    task.cancel()


async def _collect(blobs: BlobStore, *, uploads_older_than: float) -> None:
    try:
        uploads = await asyncio.to_thread(blobs.collect_uploads, uploads_older_than)
        removed = await asyncio.to_thread(blobs.collect_garbage, BLOB_GC_AGE)
    except OSError as error:
        log.warning("could not collect garbage in the blob store: %s", error)
        return
    if uploads:
        log.info("removed %d partial uploads", uploads)
    if removed:
        log.info("removed %d blobs unused for 30 days", removed)


async def _stop_builds(app: web.Application) -> None:
    await app[SERVICES].pipeline.stop()
