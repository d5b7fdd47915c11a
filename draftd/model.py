"""draftd's own data: a build's events, the app it is for, the image, what a target is asked.

Inside the daemon data moves as frozen dataclasses; what crosses HTTP is in
`draftd.wire` (the JSON shapes the client shares), and each dataclass that goes out
says how it becomes that JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from draftd.wire import (
    BuildEventJSON,
    BuildSettings,
    DeploymentJSON,
    DeploymentState,
    EventKind,
    Phase,
    Progress,
    StageTiming,
)


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
    stages: list[StageTiming] | None = None

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
        if self.stages is not None:
            out["stages"] = self.stages
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
    """Run the app under the restart wrapper so that saves can sync into it (`draftd.sync`),
    when the target has a syncer."""
    superseded: Callable[[], bool] = field(default=lambda: False, compare=False)
    """Whether a newer build of the app waits to deploy: a target may then stop waiting for
    what it started (a rollout the next one replaces) rather than hold the newer one back."""


@dataclass(frozen=True)
class Deployment:
    """Where an app runs now, as a target reports it."""

    key: AppKey
    target: str
    url: str | None
    image: str | None
    build_id: str | None
    state: DeploymentState
    detail: str = ""
    sync_instance: str | None = None
    """What a later sync copies files into (`draftd.sync`), set by a deploy that ran the app
    under the restart wrapper (the docker target: its container's id); else None."""

    def to_json(self) -> DeploymentJSON:
        return {
            "app": self.key.app,
            "environment": self.key.environment,
            "target": self.target,
            "url": self.url,
            "image": self.image,
            "buildId": self.build_id,
            "state": self.state,
            "detail": self.detail,
        }
