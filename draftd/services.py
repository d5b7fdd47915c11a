"""What every HTTP handler reaches, and the small request helpers they share."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from draft.errors import quoted
from draftd.app_records import AppRecords
from draftd.blobs import BlobStore
from draftd.builds import BuildRegistry
from draftd.buildspec import RequestRefused
from draftd.pipeline import Pipeline

MAX_TASKS = 8
"""Tasks (`exec`) running inside apps at once, each in a thread of its own."""


@dataclass(frozen=True)
class Services:
    """One per app, built by `draftd.api.create_app`."""

    pipeline: Pipeline
    token: str
    tasks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_TASKS))

    @property
    def builds(self) -> BuildRegistry:
        return self.pipeline.builds

    @property
    def blobs(self) -> BlobStore:
        return self.pipeline.blobs

    @property
    def apps(self) -> AppRecords:
        return self.pipeline.apps


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """The whole-number query parameter `name`, within bounds, or `RequestRefused`."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RequestRefused(f"?{name} must be a whole number, not {raw[:40]!r}.") from None
    if not low <= value <= high:
        raise RequestRefused(f"?{name} must be between {low} and {high}.")
    return value


async def json_body(request: web.Request) -> Any:
    """The request's JSON body ({} when empty), or `RequestRefused` in one sentence.

    JSON is UTF-8 (RFC 8259): another declared charset, undecodable bytes, NaN, a number
    too long to convert, or nesting past the parser's recursion limit are refused, never a
    traceback. The body's size is bounded by the app's `client_max_size`; it is parsed in
    a thread, in time linear in its size.
    """
    charset = request.charset
    if charset is not None and charset.lower().replace("-", "") != "utf8":
        raise RequestRefused(
            f"The request body is declared {quoted(charset)}; JSON is sent as UTF-8.",
            "Send Content-Type: application/json (or application/json; charset=utf-8).",
        )
    raw = await request.read()
    if not raw.strip():
        return {}
    return await asyncio.to_thread(parse_json, raw)


def parse_json(raw: bytes) -> Any:
    """`raw` as JSON, or `RequestRefused` saying in one sentence why it is not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestRefused(
            f"The request body is not valid UTF-8 (byte {error.start} of {len(raw)})."
        ) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise RequestRefused("The request body nests arrays or objects too deeply.") from None
    except json.JSONDecodeError as error:
        raise RequestRefused(
            f"The request body is not JSON: {error.msg} (line {error.lineno}, "
            f"column {error.colno})."
        ) from None
    except ValueError:  # an integer past sys.get_int_max_str_digits()
        raise RequestRefused("The request body has a number with too many digits.") from None


def _refuse_constant(name: str) -> Any:
    raise RequestRefused(f"The request body is not JSON: {name} is not a JSON number.")
