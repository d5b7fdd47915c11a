"""A real draftd app on 127.0.0.1 with a stand-in builder and target, and a tiny client.

The stand-ins exist ONLY to control timing (hold a build or a deploy until the
test releases it, fail on demand): everything else — HTTP, auth, blob store,
manifest checks, tar building, the pipeline, supersede — is draftd's real code.
The real Docker builder and targets are covered by the integration tests
(real engine and registry) next to draftd/docker_builder.py and
draftd/targets/.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
from kit import build_settings as settings

from draftd.api import create_app
from draftd.builder import APP_LABEL
from draftd.daemon import serve
from draftd.model import AppKey, Deployment, DeployRequest, Image
from draftd.services import SERVICES, Services
from draftd.sync.syncer import SyncRequest, SyncUnavailable
from draftd.targets.base import DeployError, ExecResult, run_bounded
from draftd.wire import TERMINAL, Progress

TOKEN = "a-long-random-token-for-tests"
DOCKERFILE = b"FROM scratch\nCOPY . /app\nEXPOSE 5000\n"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Link:
    target: str


def manifest(files: Mapping[str, bytes | Link]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path, content in files.items():
        if isinstance(content, Link):
            data = content.target.encode()
            entries.append(
                {
                    "path": path,
                    "digest": digest(data),
                    "size": len(data),
                    "mode": 0o777,
                    "link": content.target,
                }
            )
        else:
            entries.append(
                {"path": path, "digest": digest(content), "size": len(content), "mode": 0o644}
            )
    return entries


class FakeBuilder:
    """Builds nothing; records what it was given. Timing control only (see the module doc)."""

    def __init__(self) -> None:
        self.images: dict[Image, dict[str, str]] = {}
        """Every name the engine has, and the labels of the image it names."""
        self.contexts: list[bytes] = []
        self.push_until: asyncio.Event | None = None
        """Set: a push waits for it."""
        self.push_error: Exception | None = None
        self.pushes: list[str] = []
        self.holds: dict[str, asyncio.Event] = {}
        self.failures: dict[str, BaseException] = {}
        self.logs: dict[str, list[str]] = {}

    def hold(self, app: str) -> asyncio.Event:
        """Builds of `app` wait until the returned event is set."""
        self.holds[app] = asyncio.Event()
        return self.holds[app]

    async def exists(self, image: Image) -> bool:
        return image in self.images

    async def labels(self, image: Image) -> dict[str, str] | None:
        return self.images.get(image)

    async def adopt(self, image: Image, labels: Mapping[str, str]) -> None:
        self.images[image] = dict(labels)

    async def build(
        self,
        context: BinaryIO,
        image: Image,
        *,
        dockerfile: str,
        build_args: Mapping[str, str],
        labels: Mapping[str, str],
        log: Any,
    ) -> None:
        self.contexts.append(context.read())
        app = image.repository.rsplit("/", 1)[-1]
        for line in self.logs.get(app, ["Step 1/2 : FROM scratch"]):
            log(line)
        if app in self.holds:
            await self.holds[app].wait()
        if app in self.failures:
            raise self.failures[app]
        self.images[image] = dict(labels)

    async def pushed(self, image: Image) -> bool:
        return image.reference in self.pushes

    async def push(self, image: Image, progress: Any, log: Any) -> None:
        update: Progress = {"current": 1, "total": 1, "unit": "layers"}
        progress(update)
        if self.push_until is not None:
            await self.push_until.wait()
        if self.push_error is not None:
            raise self.push_error
        self.pushes.append(image.reference)

    async def tag(self, image: Image, extra: Image) -> None:
        self.images[extra] = self.images[image]

    async def prune(self, app: str, keep: int, protect: Collection[str] = ()) -> list[str]:
        """The app's images but the newest `keep` go (newest: the last built)."""
        built = [i for i, labels in self.images.items() if labels.get(APP_LABEL) == app]
        gone = [i for i in built[: max(len(built) - keep, 0)] if i.reference not in protect]
        for image in gone:
            del self.images[image]
        return [image.reference for image in gone]


class FakeTarget:
    """Deploys nothing; records the order of deploys. Timing control only (see the module doc)."""

    syncer: Any = None

    def __init__(self, name: str = "docker") -> None:
        self.name = name
        self.started: list[str] = []
        self.deployed: list[str] = []
        self.running: dict[AppKey, Deployment] = {}
        self.holds: dict[str, asyncio.Event] = {}
        self.is_available = True
        self.derive_suffix = ""
        """`derive` answers the image tagged with this suffix (none: the image as built)."""
        self.derive_until: asyncio.Event | None = None
        """Set: `derive` waits for it before answering."""
        self.derive_error: DeployError | None = None
        self.derive_started = asyncio.Event()

    async def prepare(self, key: AppKey) -> None:
        pass

    async def derive(self, image: Image, *, restartable: bool, pushed: bool, report: Any) -> Image:
        self.derive_started.set()
        if self.derive_until is not None:
            await self.derive_until.wait()
        if self.derive_error is not None:
            raise self.derive_error
        if not self.derive_suffix:
            return image
        report(f"derived {image.reference}{self.derive_suffix}")
        return Image(image.repository, image.tag + self.derive_suffix)

    def hold(self, build_id: str) -> asyncio.Event:
        self.holds[build_id] = asyncio.Event()
        return self.holds[build_id]

    async def available(self) -> bool:
        return self.is_available

    async def deploy(self, request: DeployRequest, report: Any) -> Deployment:
        self.started.append(request.build_id)
        report(f"starting {request.image.reference} on port {request.port}")
        if request.build_id in self.holds:
            await self.holds[request.build_id].wait()
        deployment = Deployment(
            request.key,
            self.name,
            f"http://127.0.0.1:18080/{request.build_id}",
            request.image.reference,
            request.build_id,
            "running",
        )
        self.running[request.key] = deployment
        self.deployed.append(request.build_id)
        return deployment

    async def status(self, key: AppKey) -> Deployment:
        return self.running.get(key) or Deployment(key, self.name, None, None, None, "absent")

    async def logs(self, key: AppKey, *, follow: bool, tail: int) -> AsyncIterator[str]:
        for number in range(3):
            yield f"{key.app} line {number}"

    async def delete(self, key: AppKey) -> bool:
        return self.running.pop(key, None) is not None

    async def exec(
        self, key: AppKey, command: list[str], *, timeout: float, limit: int
    ) -> ExecResult:
        """`sleep S`, `yes BYTES` (that much output) and `echo WORDS`, through draftd's real
        bounds (`run_bounded`): only the commands are stand-ins."""
        if key not in self.running:
            raise DeployError(f"{key} is not running.", "Run `draft up` first.")

        def run(emit: Callable[[bytes], None], stop: threading.Event) -> int | None:
            if command[0] == "sleep":
                return None if stop.wait(float(command[1])) else 0
            if command[0] == "yes":
                left = int(command[1])
                while left > 0 and not stop.is_set():
                    emit(b"y\n" * min(8192, left // 2 or 1))
                    left -= 16384
                return 0
            emit((" ".join(command[1:]) + "\n").encode())
            return 3 if command[0] == "false" else 0

        return await run_bounded(run, timeout=timeout, limit=limit)

    async def connect(self, key: AppKey, local_port: int | None) -> str:
        return f"http://127.0.0.1:{local_port or 18080}"


class SyncingTarget(FakeTarget):
    """A FakeTarget that restartable deploys can be synced into; records each sync's files.

    Timing control only (see the module doc): the docker target's real sync is tested
    against the real engine in tests/e2e/test_sync_docker.py.
    """

    def __init__(self) -> None:
        super().__init__()
        self.syncer = self
        self.synced: list[tuple[str, str, list[str]]] = []
        """(build id, container, the archive's paths), in order."""
        self.vanish = False
        """The next sync finds its container gone (after `can_sync` said yes)."""

    async def deploy(self, request: DeployRequest, report: Any) -> Deployment:
        deployment = await super().deploy(request, report)
        if request.restartable:
            instance = f"c-{request.build_id}"
            deployment = self.running[request.key] = replace(deployment, sync_instance=instance)
        return deployment

    async def can_sync(self, key: AppKey, instance: str) -> bool:
        running = self.running.get(key)
        return running is not None and running.sync_instance == instance

    async def copy(self, request: SyncRequest, report: Any) -> None:
        if self.vanish:
            self.vanish = False
            raise SyncUnavailable(f"{request.instance} is gone")
        paths = sorted(tar_members(request.archive))
        self.synced.append((request.build_id, request.instance, paths))
        if request.build_id in self.holds:
            await self.holds[request.build_id].wait()

    async def restart(self, request: SyncRequest, report: Any) -> Deployment:
        deployment = replace(self.running[request.key], build_id=request.build_id, state="running")
        self.running[request.key] = deployment
        return deployment


@dataclass
class Daemon:
    """A running draftd and a session that talks to it on 127.0.0.1 only."""

    url: str
    session: aiohttp.ClientSession
    builder: FakeBuilder
    target: FakeTarget
    state: Path
    headers: dict[str, str] = field(default_factory=dict)
    services: Services | None = None
    """draftd's own objects, for tests that look inside (memory held, bounds)."""

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = kwargs.pop("headers", self.headers)
        async with self.session.request(
            method, self.url + path, headers=headers, **kwargs
        ) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def post_build(
        self,
        files: Mapping[str, bytes | Link],
        *,
        app: str = "hello",
        environment: str = "development",
        chart: Mapping[str, bytes | Link] | None = None,
        hold: float | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "app": app,
            "environment": environment,
            "manifest": manifest(files),
            "settings": settings(app, **overrides),
            "trigger": "save",
        }
        if chart is not None:
            body["chart"] = manifest(chart)
        if hold is not None:
            body["holdSeconds"] = hold
        status, answer = await self.request("POST", "/v1/builds", json=body)
        assert status == 202, answer
        return answer

    async def upload(self, files: Mapping[str, bytes | Link], missing: list[str]) -> None:
        blobs = {digest(c): c for c in files.values() if isinstance(c, bytes)}
        for wanted in missing:
            status, answer = await self.request("PUT", f"/v1/blobs/{wanted}", data=blobs[wanted])
            assert status == 201, answer

    async def deploy(self, files: Mapping[str, bytes | Link], **kwargs: Any) -> str:
        """Post a build and upload what it lacks; returns the build id."""
        created = await self.post_build(files, **kwargs)
        await self.upload({**files, **kwargs.get("chart", {})}, created["missing"])
        return str(created["buildId"])

    async def events(
        self, build_id: str, after: int = 0, *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Events from the stream until the build ends (or `limit` lines, then disconnect)."""
        found: list[dict[str, Any]] = []
        url = f"{self.url}/v1/builds/{build_id}/events?after={after}"
        async with self.session.get(url, headers=self.headers) as response:
            assert response.status == 200
            assert response.content_type == "application/x-ndjson"
            async for line in response.content:
                found.append(json.loads(line))
                if limit is not None and len(found) >= limit:
                    break
        return found

    async def outcome(self, build_id: str) -> dict[str, Any]:
        events = await asyncio.wait_for(self.events(build_id), 10)
        assert events[-1]["phase"] in TERMINAL, events
        return events[-1]


@dataclass
class DaemonFactory:
    state: Path
    running: list[tuple[Any, aiohttp.ClientSession]] = field(default_factory=list)

    async def start(self, *, host: str = "127.0.0.1", token: str = TOKEN, **options: Any) -> Daemon:
        builder, target = FakeBuilder(), FakeTarget()
        targets = {"docker": target, **options.pop("targets", {})}
        app = create_app(self.state, builder, targets, token, host=host, **options)
        runner, port = await serve(app, host, 0)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))  # no hang
        self.running.append((runner, session))
        headers = {"Authorization": f"Bearer {token}"}
        return Daemon(
            f"http://127.0.0.1:{port}", session, builder, target, self.state, headers, app[SERVICES]
        )

    async def close(self) -> None:
        for runner, session in self.running:
            await session.close()
            await runner.cleanup()


def tar_members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {member.name: member for member in tar.getmembers()}


def tree(folder: Path) -> set[str]:
    """Every path under `folder`, to show nothing was written where it should not be."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}
