"""What crosses draftd's boundaries: the wire types and the build's life cycle.

JSON on the wire is described with TypedDicts (the client in `draft.client`
declares the same shapes); inside the daemon, data moves as frozen dataclasses.
docs/draftd-api.md documents the HTTP API these types travel in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

API_VERSION = "v1"


class Phase(enum.StrEnum):
    """A build's phases, in order; `ready`, `failed` and `superseded` are terminal."""

    QUEUED = "queued"
    UPLOADING = "uploading"
    BUILDING = "building"
    PUSHING = "pushing"
    DEPLOYING = "deploying"
    READY = "ready"
    FAILED = "failed"
    SUPERSEDED = "superseded"

    @property
    def terminal(self) -> bool:
        return self in (Phase.READY, Phase.FAILED, Phase.SUPERSEDED)


EventKind = Literal["phase", "log", "progress"]
Trigger = Literal["command", "save", "watch"]
TargetName = Literal["auto", "kubernetes", "docker"]


class ManifestEntry(TypedDict):
    """One file of the build context: where it goes, what it holds, its mode."""

    path: str  # relative, "/"-separated, no "..", no leading "/"
    digest: str  # "sha256:<64 hex>"; for a symlink, of its target text
    size: int
    mode: int  # permission bits only (0o644, 0o755); file type bits are refused
    link: NotRequired[str]  # set for symlinks: the target, which must stay inside


class BuildSettings(TypedDict):
    """What draft.toml says about building and deploying (the environment's keys)."""

    name: str
    namespace: str
    dockerfile: str
    chart: str
    registry: str
    set: list[str]
    custom_tags: list[str]
    image_build_args: dict[str, str]
    target: TargetName
    wait: bool
    sync: bool  # saves that change only files the Dockerfile copies last sync them into the app


class BuildRequest(TypedDict):
    app: str
    environment: str
    manifest: list[ManifestEntry]
    settings: BuildSettings
    trigger: Trigger
    chart: NotRequired[list[ManifestEntry]]  # the chart's files, for the kubernetes target


class BuildCreated(TypedDict):
    buildId: str
    missing: list[str]  # digests the daemon lacks; upload each with PUT /v1/blobs/{digest}
    tag: str  # the image tag: a hash of the build context and settings


class BuildStatusJSON(TypedDict):
    """`GET /v1/builds/{id}`: where a build is now."""

    buildId: str
    app: str
    environment: str
    phase: str
    tag: str
    url: NotRequired[str]
    reason: NotRequired[str]


class HealthJSON(TypedDict):
    """`GET /v1/health`; without a valid token only `version` is answered."""

    version: str
    docker: NotRequired[bool]  # the docker target answers
    kubernetes: NotRequired[bool]  # the kubernetes target answers (False when not configured)


class ErrorJSON(TypedDict):
    """Every 4xx/5xx answer's body."""

    error: str
    hint: str


class Progress(TypedDict):
    current: int
    total: int
    unit: Literal["bytes", "steps", "layers"]


class BuildEventJSON(TypedDict):
    seq: int  # per build, from 1, no gaps: resume with ?after=seq
    buildId: str
    app: str
    environment: str
    kind: EventKind
    phase: str
    message: str
    elapsedMs: int
    time: float
    progress: NotRequired[Progress]
    url: NotRequired[str]
    reason: NotRequired[str]
    image: NotRequired[str]


@dataclass(frozen=True)
class BuildEvent:
    seq: int
    build_id: str
    app: str
    environment: str
    kind: EventKind
    phase: Phase
    message: str
    elapsed_ms: int
    time: float
    progress: Progress | None = None
    url: str | None = None
    reason: str | None = None
    image: str | None = None

    def to_json(self) -> BuildEventJSON:
        out: BuildEventJSON = {
            "seq": self.seq,
            "buildId": self.build_id,
            "app": self.app,
            "environment": self.environment,
            "kind": self.kind,
            "phase": self.phase.value,
            "message": self.message,
            "elapsedMs": self.elapsed_ms,
            "time": self.time,
        }
        if self.progress is not None:
            out["progress"] = self.progress
        if self.url is not None:
            out["url"] = self.url
        if self.reason is not None:
            out["reason"] = self.reason
        if self.image is not None:
            out["image"] = self.image
        return out


@dataclass(frozen=True)
class AppKey:
    """Builds and deployments are per app and environment."""

    app: str
    environment: str

    def __str__(self) -> str:
        return f"{self.app}/{self.environment}"


@dataclass(frozen=True)
class Image:
    repository: str  # e.g. "127.0.0.1:5000/tufted-lamb" or "tufted-lamb" (no registry)
    tag: str

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class DeployRequest:
    """Everything a target needs to deploy one built image."""

    key: AppKey
    build_id: str
    image: Image
    settings: BuildSettings
    chart_dir: str | None  # a materialized copy of the app's chart (kubernetes target)
    port: int  # the container port (from the chart's containerPort / EXPOSE)
    pushed: bool  # whether the image is in a registry (else only in the local engine)
    restartable: bool = False
    """Run the app so that saves can sync files into it and restart it (the docker target)."""


@dataclass(frozen=True)
class SyncRequest:
    """Files to copy into a running app, which is then restarted where it runs."""

    key: AppKey
    build_id: str
    container: str  # the container the files go into, as the deploy that made it named it
    archive: bytes  # a tar of the files at their absolute paths in the container
    files: int
    port: int
    wait: bool


@dataclass(frozen=True)
class Deployment:
    """Where an app runs now, as a target reports it."""

    key: AppKey
    target: str
    url: str | None
    image: str | None
    build_id: str | None
    state: str  # "running", "starting", "failed", "absent"; "unknown" when the target errs
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class DeploymentJSON(TypedDict):
    app: str
    environment: str
    target: str
    url: str | None
    image: str | None
    buildId: str | None
    state: str
    detail: str
