"""The real builder: the local Docker engine, through the `docker` SDK.

Every SDK call blocks, so each runs in a worker thread; build output is streamed
line by line to the pipeline's `log` callback as the engine produces it. The
engine not answering is `TargetUnavailable` with what to do (`draftd.engine`).

An image's labels (the app it was built for) are draftd's own record, kept in
its state folder by image id, not `LABEL`s in the image: the engine's builder
adds a label as one more step, a container created and committed (0.1 to 0.2 s
of every build). Images an older Draft labelled are still recognised.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import docker
import docker.errors

from draftd import build_failures, buildkit
from draftd.builder import APP_LABEL, BuildFailed, Log, ProgressReport, PushFailed
from draftd.engine import (
    CONNECT_TIMEOUT,
    BuildRefused,
    NoBuildKit,
    build_error,
    buildkit_messages,
    connect_api,
    engine_unavailable,
)
from draftd.model import Image

log = logging.getLogger(__name__)

BUILD_TIMEOUT = 3600
RECENT_LINES = 40
"""Output lines of the failing step kept to tell a network failure from the app's."""
_STEP = re.compile(r"^Step \d+/\d+ : ")


class LabelRecords:
    """The labels draftd gave the images it built, by image id, in one JSON file (or only in
    memory, without one): written whole on each change, read once."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                found = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(found, dict):
                    self._records = {
                        str(k): v for k, v in found.items()
                        if isinstance(v, dict) and isinstance(v.get("labels"), dict)
                    }  # fmt: skip

    def labels(self, image_id: str) -> dict[str, str]:
        with self._lock:
            return dict(self._records.get(image_id, {}).get("labels", {}))

    def built(self, image_id: str) -> float:
        with self._lock:
            return float(self._records.get(image_id, {}).get("built", 0))

    def ids(self, label: str, value: str) -> set[str]:
        with self._lock:
            return {i for i, r in self._records.items() if r["labels"].get(label) == value}

    def add(self, image_id: str, labels: Mapping[str, str]) -> None:
        with self._lock:
            self._records[image_id] = {"labels": dict(labels), "built": time.time()}
            self._save()

    def forget(self, image_ids: Collection[str]) -> None:
        with self._lock:
            if any(self._records.pop(i, None) is not None for i in list(image_ids)):
                self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            partial.write_text(json.dumps(self._records), encoding="utf-8")
            partial.replace(self.path)
        except OSError as error:
            # Kept in memory still; after a restart, images it missed are not pruned, and
            # custom_tags cannot move off them.
            log.warning("could not record the images draftd built in %s: %s", self.path, error)
            partial.unlink(missing_ok=True)


class DockerBuilder:
    """Builds, tags and pushes images on the local engine."""

    def __init__(self, records: Path | None = None) -> None:
        self._client: docker.APIClient | None = None
        self.records = LabelRecords(records)
        self.buildkit = os.environ.get("DRAFTD_BUILDKIT", "1") != "0"
        """Build with the engine's BuildKit (env DRAFTD_BUILDKIT=0: its classic builder)."""

    def _engine(self) -> docker.APIClient:
        if self._client is None:
            self._client = connect_api(BUILD_TIMEOUT)
        return self._client

    async def exists(self, image: Image) -> bool:
        return await asyncio.to_thread(self._inspect, image) is not None

    async def labels(self, image: Image) -> dict[str, str] | None:
        found = await asyncio.to_thread(self._inspect, image)
        if found is None:
            return None
        labels = dict((found.get("Config") or {}).get("Labels") or {})
        # The engine's labels are whatever the Dockerfile says: draftd's record wins.
        return {**labels, **self.records.labels(str(found.get("Id", "")))}

    def _inspect(self, image: Image) -> dict[str, Any] | None:
        try:
            found = self._engine().inspect_image(image.reference)  # type: ignore[no-untyped-call]
        except docker.errors.ImageNotFound:
            return None
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error
        return dict(found)

    async def build(
        self,
        context: BinaryIO,
        image: Image,
        *,
        dockerfile: str,
        build_args: Mapping[str, str],
        labels: Mapping[str, str],
        log: Log,
    ) -> None:
        await asyncio.to_thread(
            self._build, context, image, dockerfile, dict(build_args), dict(labels), log
        )

    def _build(
        self,
        context: BinaryIO,
        image: Image,
        dockerfile: str,
        args: dict[str, str],
        labels: dict[str, str],
        log: Log,
    ) -> None:
        if self.buildkit and self._buildkit_build(context, image, dockerfile, args, log):
            self._record(image, labels)
            return
        context.seek(0)
        self._classic_build(context, image, dockerfile, args, log)
        self._record(image, labels)

    async def adopt(self, image: Image, labels: Mapping[str, str]) -> None:
        await asyncio.to_thread(self._record, image, dict(labels))

    def _record(self, image: Image, labels: dict[str, str]) -> None:
        built = self._inspect(image)
        if built is not None:
            self.records.add(str(built["Id"]), labels)

    def _buildkit_build(
        self, context: BinaryIO, image: Image, dockerfile: str, args: dict[str, str], log: Log
    ) -> bool:
        """Build with the engine's BuildKit (`version=2`, the context as the request's body):
        steps without a container each, cache mounts (`RUN --mount=type=cache`), stages in
        parallel. False, before anything ran, when the engine has no BuildKit."""
        progress = buildkit.PlainProgress()
        try:
            messages = buildkit_messages(
                self._engine(), context, tag=image.reference, timeout=BUILD_TIMEOUT,
                dockerfile=dockerfile, buildargs=args,
            )  # fmt: skip
            for message in messages:
                failure = build_error(message)
                if message.get("id") == buildkit.TRACE_ID:
                    try:
                        status = buildkit.decode(str(message.get("aux", "")))
                    except buildkit.TraceError as error:
                        log(f"(unreadable build progress: {error})")
                        continue
                    for line in progress.lines(status):
                        log(build_failures.strip_escapes(line))
                elif failure is not None:
                    step = progress.failed_step
                    raise BuildFailed(
                        *build_failures.explain(
                            step, build_failures.strip_escapes(failure).strip(),
                            progress.recent(step),
                        )
                    )  # fmt: skip
                elif message.get("stream"):
                    text = build_failures.strip_escapes(str(message["stream"])).strip()
                    if text:
                        log(text)
        except NoBuildKit:
            log("this Docker engine has no BuildKit: building with its classic builder")
            self.buildkit = False
            return False
        except BuildRefused as refused:
            raise _refused(str(refused), dockerfile) from refused
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error
        return True

    def _classic_build(
        self, context: BinaryIO, image: Image, dockerfile: str, args: dict[str, str], log: Log
    ) -> None:
        """The engine's classic builder (one container per step), for engines without
        BuildKit or when `DRAFTD_BUILDKIT=0`."""
        step = ""
        try:
            stream = self._engine().build(
                fileobj=context,
                custom_context=True,
                tag=image.reference,
                dockerfile=dockerfile,
                buildargs=args,
                rm=True,
                forcerm=True,
                decode=True,
            )
            recent: deque[str] = deque(maxlen=RECENT_LINES)
            for line, error in _build_lines(stream):
                if error is not None:
                    raise BuildFailed(*build_failures.explain(step, error, list(recent)))
                if _STEP.match(line):
                    step = line
                    recent.clear()
                recent.append(line)
                log(line)
        except docker.errors.APIError as error:
            raise _refused(str(error.explanation or error), dockerfile) from error
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error

    async def pushed(self, image: Image) -> bool:
        return await asyncio.to_thread(_registry_has, image)

    async def push(self, image: Image, progress: ProgressReport, log: Log) -> None:
        await asyncio.to_thread(self._push, image, progress, log)

    def _push(self, image: Image, progress: ProgressReport, log: Log) -> None:
        registry = image.repository.split("/", 1)[0]
        layers: dict[str, tuple[int, int]] = {}
        try:
            stream = self._engine().push(image.repository, tag=image.tag, stream=True, decode=True)
            for message in stream:
                if "error" in message:
                    raise _push_failed(registry, str(message["error"]))
                detail = message.get("progressDetail") or {}
                if message.get("id") and detail.get("total"):
                    layers[message["id"]] = (int(detail.get("current", 0)), int(detail["total"]))
                    current = sum(c for c, _ in layers.values())
                    total = sum(t for _, t in layers.values())
                    progress({"current": current, "total": total, "unit": "bytes"})
                elif message.get("status") and not detail:
                    ident = f"{message['id']}: " if message.get("id") else ""
                    log(f"{ident}{message['status']}")
        except docker.errors.APIError as error:
            raise _push_failed(registry, str(error.explanation or error)) from error
        except (docker.errors.DockerException, OSError) as error:
            self._client = None
            raise engine_unavailable() from error

    async def tag(self, image: Image, extra: Image) -> None:
        def tag() -> None:
            try:
                self._engine().tag(image.reference, extra.repository, extra.tag)
            except (docker.errors.DockerException, OSError) as error:
                raise BuildFailed(f"could not tag {extra.reference}: {error}") from error

        await asyncio.to_thread(tag)

    async def prune(self, app: str, keep: int, protect: Collection[str] = ()) -> list[str]:
        def prune() -> list[str]:
            engine = self._engine()
            recorded = self.records.ids(APP_LABEL, app)
            try:
                everything = engine.images()
                # Labelled in the image: built by an older Draft.
                labelled = {i["Id"] for i in engine.images(filters={"label": f"{APP_LABEL}={app}"})}
            except (docker.errors.DockerException, OSError) as error:
                self._client = None
                raise engine_unavailable() from error
            self.records.forget(recorded - {i["Id"] for i in everything})  # removed meanwhile
            images = [i for i in everything if i["Id"] in recorded or i["Id"] in labelled]
            images.sort(
                key=lambda i: (self.records.built(i["Id"]), i.get("Created", 0)), reverse=True
            )
            removed: list[str] = []
            for found in images[keep:]:
                names = [t for t in found.get("RepoTags") or [] if t != "<none>:<none>"]
                if set(names) & set(protect):
                    continue  # a build in flight made it
                gone = True
                for name in names or [found["Id"]]:
                    try:
                        engine.remove_image(name)
                    except docker.errors.APIError:
                        gone = False
                        continue  # a container uses it, or it went meanwhile
                    removed.append(name)
                if gone:
                    self.records.forget({found["Id"]})
            return removed

        return await asyncio.to_thread(prune)


def _refused(explanation: str, dockerfile: str) -> BuildFailed:
    """The engine refused the build request itself (no step ran)."""
    return BuildFailed(
        f"Docker refused the build: {explanation}", f"Check that {dockerfile} exists and is valid."
    )


def _build_lines(stream: Iterator[dict[str, Any]]) -> Iterator[tuple[str, str | None]]:
    """(output line, error) pairs from the engine's JSON build stream."""
    pending = ""
    for message in stream:
        if "error" in message:
            yield "", build_failures.strip_escapes(str(message.get("error", ""))).strip()
            return
        pending += build_failures.strip_escapes(str(message.get("stream", "")))
        *complete, pending = pending.split("\n")
        for line in complete:
            if line.strip():
                yield line.rstrip(), None
    if pending.strip():
        yield pending.rstrip(), None


def _push_failed(registry: str, detail: str) -> PushFailed:
    if "connection refused" in detail.lower() or "no such host" in detail.lower():
        return _unreachable(registry)
    return PushFailed(
        f"The registry {registry} refused the push: {detail}",
        "Check you are logged in to it (`docker login`) and may push there.",
    )


def _unreachable(registry: str) -> PushFailed:
    return PushFailed(
        f"The registry {registry} cannot be reached.",
        "Start it, or change `registry` in draft.toml (empty: no push).",
    )


def _registry_has(image: Image) -> bool:
    """Whether the registry already holds the tag, asked over its HTTP API (v2).

    A registry that cannot be reached, or accepts the connection and never answers, is
    `PushFailed` now: the engine's push would take half a minute to say less. Any other
    doubt (a login needed, another API) is "no": push, and let the push say what is wrong.
    """
    registry, _, name = image.repository.partition("/")
    if not name:
        return False
    scheme = "http" if registry.split(":")[0] in ("127.0.0.1", "localhost") else "https"
    url = f"{scheme}://{registry}/v2/{name}/tags/list"
    try:
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT) as answer:
            tags = json.load(answer).get("tags") or []
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, TimeoutError):
            raise PushFailed(
                f"The registry {registry} accepts connections but did not answer within "
                f"{CONNECT_TIMEOUT} s.",
                "Check that a registry runs there, or change `registry` in draft.toml "
                "(empty: no push).",
            ) from None
        if isinstance(reason, ConnectionRefusedError | socket.gaierror):
            raise _unreachable(registry) from None
        return False
    return image.tag in tags
