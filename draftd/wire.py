"""The wire contract: every JSON shape that crosses HTTP between `draft` and draftd.

One module both sides import: draftd builds and checks these shapes (`draftd.api`,
`draftd.apps_api`, `draftd.buildspec`, `draftd.builds`), the client sends and reads them
(`draft.client`, `draft.deploy`). A field added here is checked by mypy where the client
writes it and where draftd reads it. docs/draftd-api.md documents the endpoints they travel
in; draftd's own data (dataclasses, phases as they move) is in `draftd.model`.

It imports the standard library only, so the client can import it without the daemon
(an import-linter contract in pyproject.toml and tests/draftd/test_wire.py keep it so).
"""

from __future__ import annotations

import enum
from typing import Final, Literal, NotRequired, TypedDict, get_args

API_VERSION = "v1"


class Phase(enum.StrEnum):
    """A build's phases, in order; the last three (`TERMINAL`) end it."""

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
        return self in TERMINAL


TERMINAL: Final = frozenset({Phase.READY, Phase.FAILED, Phase.SUPERSEDED})
"""The phases a build ends in; a phase event with one of them is the stream's last."""

EventKind = Literal["phase", "log", "progress"]
Trigger = Literal["command", "save", "watch"]
"""What started a build: `draft up`, an editor's save, or watch mode."""
TRIGGERS: Final[tuple[str, ...]] = get_args(Trigger)
TargetName = Literal["auto", "kubernetes", "docker"]
DeploymentState = Literal["running", "starting", "failed", "absent", "unknown"]
"""Where an app stands; "unknown" when its target could not say."""


Stage = Literal["upload", "build", "push", "deploy", "sync", "ready"]
"""The stages a build's time goes to: `upload` (until every file is in draftd), `build` (the
image), `push` (to the registry), `deploy` (the new container or the Helm release) or `sync`
(the saved files copied into the running app), then `ready` (until the app answers, where the
target tells that apart from its deploy)."""
STAGES: Final[tuple[str, ...]] = get_args(Stage)


class StageTiming(TypedDict):
    """How long one stage of a build took; a build's stages are listed in the order they ran."""

    stage: Stage
    ms: int


class ManifestEntry(TypedDict):
    """One file of the build context: where it goes, what it holds, its mode."""

    path: str  # relative, "/"-separated, no "..", no leading "/"
    digest: str  # "sha256:<64 hex>"; for a symlink, of its target text
    size: int
    mode: int  # permission bits only (0o644, 0o755); file type bits are refused
    link: NotRequired[str]  # set for symlinks: the target, which must stay inside


class BuildSettings(TypedDict):
    """What draft.toml says about building and deploying (the environment's keys).

    Every key is one of draft.toml's (`draft.configschema.KEYS`): draftd checks each value
    with that key's type and check. A key added here must be sent by `draft.deploy`
    (mypy says so) and is checked by draftd as it is; an older client that lacks it is
    refused, unless the key is in `OPTIONAL_SETTINGS`.
    """

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


OPTIONAL_SETTINGS: Final = frozenset({"sync"})
"""Settings that older clients do not send: draftd takes draft.toml's default for them."""


class BuildRequest(TypedDict):
    """`POST /v1/builds`."""

    app: str
    environment: str
    manifest: list[ManifestEntry]
    settings: BuildSettings
    trigger: Trigger
    chart: NotRequired[list[ManifestEntry]]  # the chart's files, for the kubernetes target
    holdSeconds: NotRequired[float]
    """Deploy (or sync) no sooner than this after the request arrived (0 to `MAX_HOLD`): the
    watcher's quiet period, spent building; a newer build of the app in it supersedes this
    one before it deploys."""


MAX_HOLD: Final = 10.0


class BuildCreated(TypedDict):
    """`POST /v1/builds`' answer (202)."""

    buildId: str
    missing: list[str]  # digests the daemon lacks; upload each with PUT /v1/blobs/{digest}
    tag: str  # the image tag: a hash of the build context and settings


class BlobStored(TypedDict):
    """`PUT /v1/blobs/{digest}`' answer (201)."""

    digest: str
    size: int


class BuildStatusJSON(TypedDict):
    """`GET /v1/builds/{id}`: where a build is now."""

    buildId: str
    app: str
    environment: str
    phase: str
    tag: str
    url: NotRequired[str]
    reason: NotRequired[str]
    stages: NotRequired[list[StageTiming]]  # once it has ended


class Cancelled(TypedDict):
    """`POST /v1/builds/{id}/cancel`' answer: the build's phase now."""

    phase: str


class Progress(TypedDict):
    current: int
    total: int
    unit: Literal["bytes", "steps", "layers"]


class BuildEventJSON(TypedDict):
    """One line of `GET /v1/builds/{id}/events` (NDJSON)."""

    seq: int  # per build, from 1, no gaps: resume with ?after=seq
    buildId: str
    app: str
    environment: str
    kind: EventKind
    phase: str  # a Phase's value
    message: str
    elapsedMs: int
    time: float
    progress: NotRequired[Progress]
    url: NotRequired[str]
    reason: NotRequired[str]
    image: NotRequired[str]
    stages: NotRequired[list[StageTiming]]  # on the terminal event: where the time went


class HealthJSON(TypedDict):
    """`GET /v1/health`; without a valid token only `version` is answered."""

    version: str
    docker: NotRequired[bool]  # the docker target answers
    kubernetes: NotRequired[bool]  # the kubernetes target answers (False when not configured)


class ErrorJSON(TypedDict):
    """Every 4xx/5xx answer's body."""

    error: str
    hint: str


class DeploymentJSON(TypedDict):
    """`GET /v1/apps/{app}/{env}` (and each entry of `GET /v1/apps`): where an app runs."""

    app: str
    environment: str
    target: str
    url: str | None
    image: str | None
    buildId: str | None
    state: DeploymentState
    detail: str


class HistoryEntry(TypedDict):
    """Each entry of `GET /v1/apps/{app}/{env}/history`, newest first."""

    buildId: str
    app: str
    environment: str
    tag: str
    trigger: str
    startedAt: float  # seconds since the epoch
    durationMs: int
    outcome: str  # ready | failed | superseded
    reason: str
    url: str
    stages: NotRequired[list[StageTiming]]  # absent in builds recorded by older draftds


class Deleted(TypedDict):
    """`DELETE /v1/apps/{app}/{env}`' answer."""

    deleted: bool  # False when nothing was deployed
    prunedImages: list[str]  # the app's images removed (with ?pruneImages=N), else []


class ConnectRequest(TypedDict, total=False):
    """`POST /v1/apps/{app}/{env}/connect`: an empty body lets draftd choose the port."""

    localPort: int


class Connected(TypedDict):
    url: str


class ExecRequest(TypedDict):
    """`POST /v1/apps/{app}/{env}/exec`: a command run inside the app (post-deploy tasks)."""

    command: list[str]
    timeoutSeconds: NotRequired[float]  # up to 3600 (apps_api.MAX_EXEC_TIMEOUT); else 300


class ExecResult(TypedDict):
    exitCode: int
    output: str
    cutShort: NotRequired[str]  # why the task was stopped or its output cut, when it was
