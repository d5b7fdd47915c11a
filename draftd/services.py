"""What every HTTP handler reaches, and the small request helpers they share."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from draftd.app_records import AppRecords
from draftd.blobs import BlobStore
from draftd.builds import BuildRegistry
from draftd.buildspec import RequestRefused
from draftd.pipeline import Pipeline


@dataclass(frozen=True)
class Services:
    """One per app, built by `draftd.api.create_app`."""

    pipeline: Pipeline
    token: str | None

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
