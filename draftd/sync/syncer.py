"""The one interface a target implements to take saves without a build, and the restart wrapper.

A target that can sync says so with its `syncer` (`DeployTarget.syncer`, None when it
cannot), and keeps two promises:

1. A deploy whose `DeployRequest.restartable` is set runs the image's own command under
   the restart wrapper (`restart.sh` beside this module: `wrapper_script()`, put at
   `WRAPPER` in the container, e.g. with `wrapper_archive()`), and its `Deployment` names
   the running instance a sync goes into in `sync_instance` (None when it could not run the
   wrapper: the app's saves then build).
2. Its `Syncer` gets files into that instance and has the wrapper restart the app there.

For one save `draftd.sync.live.LiveSync` calls, holding the app's deploy lock for the last
two: `can_sync` (a cheap check before), then `copy` (unless no changed file is in the
image), then `restart`. A `SyncUnavailable` from any of them turns the save into a build;
a `DeployError` fails it.
"""

from __future__ import annotations

import importlib.resources
import io
import tarfile
import time
from dataclasses import dataclass
from typing import Protocol

from draft.errors import DraftError
from draftd.model import AppKey, Deployment
from draftd.targets.base import Report

WRAPPER = "/.draft/restart.sh"
"""Where the restart wrapper lives in a synced app's container; run as `/bin/sh WRAPPER CMD…`.

It runs CMD and runs it again on SIGHUP (after ending every process of the app's user);
SIGTERM and SIGINT go to the app, and the container ends with it."""


class SyncUnavailable(DraftError):
    """The app no longer runs as the instance a sync was meant for: build and deploy instead."""


@dataclass(frozen=True)
class SyncRequest:
    """Files to copy into a running app, which is then restarted where it runs."""

    key: AppKey
    build_id: str
    instance: str
    """What the deploy that started the app named in `Deployment.sync_instance`."""
    archive: bytes
    """A tar of the files at their absolute paths in the container (without the leading "/"),
    with the owners and modes `docker build` would have given them."""
    files: int
    """How many files the archive holds; 0 when no changed file is in the image."""
    port: int
    """The container port the app listens on."""
    wait: bool
    """Wait until the app answers again (draft.toml's `wait`)."""


class Syncer(Protocol):
    """One target's way of getting a save's files into the app it runs, and restarting it."""

    async def can_sync(self, key: AppKey, instance: str) -> bool:
        """Whether `instance` still runs the app for `key` under the wrapper, able to take files."""
        ...

    async def copy(self, request: SyncRequest, report: Report) -> None:
        """Unpack `request.archive` at "/" in `request.instance`.

        `SyncUnavailable` when the instance is gone or stopped; `DeployError` when the
        copy fails otherwise.
        """
        ...

    async def restart(self, request: SyncRequest, report: Report) -> Deployment:
        """Send the wrapper SIGHUP so the app runs again with the copied files and, with
        `request.wait`, wait until it answers; where the app runs now.

        With `request.files == 0` nothing was copied: restart nothing, only confirm the
        instance still runs (`SyncUnavailable` if not). `DeployError` when the app dies.
        """
        ...


def wrapper_script() -> bytes:
    """The restart wrapper (`restart.sh`, with `warm_start.py` in it), to put at `WRAPPER` in
    an app's container."""
    package = importlib.resources.files("draftd.sync")
    script = package.joinpath("restart.sh").read_bytes()
    warm_start = package.joinpath("warm_start.py").read_bytes().rstrip(b"\n")
    return script.replace(b"@WARM_START@", warm_start)


def wrapper_archive() -> bytes:
    """A tar holding only the wrapper at `WRAPPER` (mode 0755), to unpack at "/"."""
    script = wrapper_script()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(WRAPPER.lstrip("/"))
        info.size, info.mode, info.mtime = len(script), 0o755, int(time.time())
        tar.addfile(info, io.BytesIO(script))
    return archive.getvalue()
