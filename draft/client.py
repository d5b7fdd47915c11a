"""Talking to draftd over HTTP (docs/draftd-api.md), and starting one when none answers.

This is the only way `draft` reaches the daemon: the CLI and the language
server share it. What it sends and reads is typed by `draftd.wire`, the contract
draftd itself is typed by (the one module of draftd the client imports; it re-exports
the shapes its callers need). Every failure a user can meet is a `DraftError` with
what to do: draftd not answering, a wrong token, a refused request.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, cast

import aiohttp

from draft import userconfig
from draft.errors import DraftError
from draft.home import draftd_state
from draft.manifest import Entry
from draftd.wire import (
    TERMINAL,
    BuildCreated,
    BuildEventJSON,
    BuildRequest,
    BuildStatusJSON,
    Connected,
    ConnectRequest,
    ErrorJSON,
    ExecRequest,
    ExecResult,
    HealthJSON,
)
from draftd.wire import Deleted as Deleted  # re-exported: the CLI names them
from draftd.wire import DeploymentJSON as DeploymentJSON
from draftd.wire import HistoryEntry as HistoryEntry

DEFAULT_URL = "http://127.0.0.1:7878"
URL_ENV = "DRAFT_DAEMON_URL"
NO_AUTOSTART_ENV = "DRAFT_NO_AUTOSTART"
START_TIMEOUT = 15.0
RECONNECTS = 5


class DaemonUnreachable(DraftError):
    """No draftd answers at the URL (and none could be started)."""


class ContextChanged(DraftError):
    """A file of the build changed (or went away) between hashing it and uploading it."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} changed while Draft was uploading it.",
            "Save again, or run `draft up` again: Draft sends the app as it is then.",
        )
        self.path = path


class DaemonRefused(DraftError):
    """draftd answered with an error."""

    def __init__(self, message: str, hint: str = "", status: int = 0) -> None:
        super().__init__(message, hint)
        self.status = status


def configured_url() -> str | None:
    """The URL asked for (`DRAFT_DAEMON_URL`), else the one the local draftd wrote, else None."""
    explicit = os.environ.get(URL_ENV) or userconfig.values().get("daemon_url")
    if explicit:
        return explicit.rstrip("/")
    try:
        info = json.loads((draftd_state() / "draftd.json").read_text(encoding="utf-8"))
        return str(info["url"]).rstrip("/")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def configured_token(url: str) -> str | None:
    """`DRAFTD_TOKEN`, else for a draftd on this machine the token in its state folder
    (readable by its user only): never sent to a draftd elsewhere."""
    token = os.environ.get("DRAFTD_TOKEN")
    if token:
        return token
    if not _is_local(url):
        return None
    try:
        return (draftd_state() / "token").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


class DraftdClient:
    """One draftd; use as `async with DraftdClient(url) as client:`."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> DraftdClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_connect=3)
            )
        return self._session

    async def _json(self, method: str, path: str, body: object = None) -> Any:
        try:
            async with self.session.request(method, self.url + path, json=body) as answer:
                await _raise_for(answer)
                return await answer.json()
        except aiohttp.ClientConnectionError as error:
            raise self._unreachable() from error

    def _unreachable(self) -> DaemonUnreachable:
        return DaemonUnreachable(
            f"draftd does not answer at {self.url}.",
            "Start it with `draftd` (draft up starts one on this machine by itself), "
            f"or set {URL_ENV} to where it runs.",
        )

    async def health(self) -> HealthJSON:
        return cast(HealthJSON, await self._json("GET", "/v1/health"))

    async def create_build(self, request: BuildRequest) -> BuildCreated:
        return cast(BuildCreated, await self._json("POST", "/v1/builds", request))

    async def upload(self, root: Path, entries: Iterable[Entry], missing: Iterable[str]) -> int:
        """PUT every missing blob (one file each, read from `root`); returns bytes sent."""
        wanted = set(missing)
        sources: dict[str, Entry] = {}
        for entry in entries:
            if entry.digest in wanted and entry.link is None:
                sources.setdefault(entry.digest, entry)
        sent = 0
        for digest, entry in sources.items():
            data = await asyncio.to_thread(_read_as_hashed, root, entry)
            try:
                async with self.session.put(f"{self.url}/v1/blobs/{digest}", data=data) as answer:
                    await _raise_for(answer)
            except aiohttp.ClientConnectionError as error:
                raise self._unreachable() from error
            sent += len(data)
        return sent

    async def events(self, build_id: str, after: int = 0) -> AsyncIterator[BuildEventJSON]:
        """The build's events from `after` on, resuming after a dropped connection."""
        last = after
        failures = 0
        while True:
            try:
                async with self.session.get(
                    f"{self.url}/v1/builds/{build_id}/events", params={"after": str(last)}
                ) as answer:
                    await _raise_for(answer)
                    async for raw in answer.content:
                        if not raw.strip():
                            continue
                        event: BuildEventJSON = json.loads(raw)
                        last = int(event["seq"])
                        failures = 0
                        yield event
                        if event["kind"] == "phase" and event["phase"] in TERMINAL:
                            return
                return  # the daemon ended the stream: the build is over
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError):
                failures += 1
                if failures > RECONNECTS:
                    raise self._unreachable() from None
                await asyncio.sleep(0.2 * failures)

    async def build(self, build_id: str) -> BuildStatusJSON:
        return cast(BuildStatusJSON, await self._json("GET", f"/v1/builds/{build_id}"))

    async def apps(self) -> list[DeploymentJSON]:
        return cast(list[DeploymentJSON], await self._json("GET", "/v1/apps"))

    async def app(self, app: str, env: str) -> DeploymentJSON:
        return cast(DeploymentJSON, await self._json("GET", f"/v1/apps/{app}/{env}"))

    async def history(self, app: str, env: str) -> list[HistoryEntry]:
        """The app's builds, newest first (draftd keeps the newest 100, across restarts)."""
        return cast(list[HistoryEntry], await self._json("GET", f"/v1/apps/{app}/{env}/history"))

    async def build_log(self, build_id: str) -> str:
        try:
            async with self.session.get(f"{self.url}/v1/builds/{build_id}/log") as answer:
                await _raise_for(answer)
                return await answer.text()
        except aiohttp.ClientConnectionError as error:
            raise self._unreachable() from error

    async def exec(self, app: str, env: str, command: list[str]) -> tuple[int, str]:
        body: ExecRequest = {"command": command}
        answer: ExecResult = await self._json("POST", f"/v1/apps/{app}/{env}/exec", body)
        return int(answer["exitCode"]), str(answer["output"])

    async def delete(self, app: str, env: str, prune_images: int | None = None) -> Deleted:
        """Remove the app; with `prune_images`, its images too but the newest that many."""
        query = f"?pruneImages={prune_images}" if prune_images is not None else ""
        answer: Deleted = await self._json("DELETE", f"/v1/apps/{app}/{env}{query}")
        return answer

    async def connect(self, app: str, env: str, local_port: int | None = None) -> str:
        body: ConnectRequest = {"localPort": local_port} if local_port else {}
        answer: Connected = await self._json("POST", f"/v1/apps/{app}/{env}/connect", body)
        return str(answer["url"])

    async def logs(
        self, app: str, env: str, *, follow: bool = False, tail: int = 100
    ) -> AsyncIterator[str]:
        """The app's output; `DaemonRefused` when draftd meets an error while sending it."""
        params = {"follow": "1" if follow else "0", "tail": str(tail)}
        try:
            async with self.session.get(
                f"{self.url}/v1/apps/{app}/{env}/logs", params=params
            ) as answer:
                await _raise_for(answer)
                mark = answer.headers.get(ERROR_MARK, "")
                async for raw in answer.content:
                    line = raw.decode("utf-8", errors="replace").rstrip("\n")
                    if mark and line.startswith(f"{mark} draftd: "):
                        raise _in_band_error(line.removeprefix(f"{mark} draftd: "))
                    yield line
        except aiohttp.ClientConnectionError as error:
            raise self._unreachable() from error


ERROR_MARK = "Draft-Error-Mark"
"""draftd's logs answer names the mark of its error line in this header (draftd/apps_api.py)."""


def _in_band_error(text: str) -> DaemonRefused:
    try:
        body = json.loads(text)
        return DaemonRefused(str(body.get("error") or text), str(body.get("hint") or ""))
    except (ValueError, AttributeError):
        return DaemonRefused(text)


def _read_as_hashed(root: Path, entry: Entry) -> bytes:
    """The file's bytes, when they are still what the manifest says; else `ContextChanged`
    (draftd would refuse them, and the build would wait for a blob that never comes)."""
    try:
        data = (root / entry.path).read_bytes()
    except OSError:
        raise ContextChanged(entry.path) from None
    if "sha256:" + hashlib.sha256(data).hexdigest() != entry.digest:
        raise ContextChanged(entry.path)
    return data


async def _raise_for(answer: aiohttp.ClientResponse) -> None:
    if answer.status < 400:
        return
    try:
        body: ErrorJSON = await answer.json(content_type=None)
        error, hint = str(body.get("error", "")), str(body.get("hint", ""))
    except (ValueError, aiohttp.ContentTypeError, AttributeError):
        error, hint = f"draftd answered {answer.status} {answer.reason}.", ""
    raise DaemonRefused(error or f"draftd answered {answer.status}.", hint, answer.status)


async def ensure_daemon(url: str | None = None) -> DraftdClient:
    """A client of the draftd at `url` (or the configured one); on this machine, start it if
    nothing answers — `draft up` needs no daemon started by hand."""
    wanted = url or configured_url() or DEFAULT_URL
    client = DraftdClient(wanted, configured_token(wanted))
    try:
        await client.health()
        return client
    except DaemonUnreachable:
        if os.environ.get(NO_AUTOSTART_ENV) or not _is_local(wanted):
            await client.close()
            raise
    await asyncio.to_thread(_start_local, wanted)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            await client.health()
        except DaemonUnreachable:
            await asyncio.sleep(0.2)
            continue
        await client.close()  # its session predates the token the new draftd wrote
        client.token = configured_token(wanted)
        return client
    await client.close()
    log = draftd_state() / "draftd.log"
    raise DaemonUnreachable(
        f"draftd did not start at {wanted} within {START_TIMEOUT:.0f} s.",
        f"Its log is {log}; or start it yourself with `draftd`.",
    )


def _is_local(url: str) -> bool:
    """Whether `url` names this machine (a loopback address, or localhost)."""
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _start_local(url: str) -> None:
    """Start `draftd` detached, logging to its state folder, on the URL's port."""
    port = url.rsplit(":", 1)[-1].split("/")[0]
    folder = draftd_state()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (folder / "draftd.log").open("ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "draftd", "--host", "127.0.0.1", "--port", port],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
