"""The one interface image builders implement; `draftd.docker_builder` is the real one.

The pipeline hands a builder a tar stream of the build context it assembled
from the blob store, and gets log lines back through a callback. Builders run
their blocking work in threads: the daemon's event loop never waits on Docker.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import BinaryIO, Protocol

from draft.errors import DraftError
from draftd.model import Image
from draftd.wire import Progress

Log = Callable[[str], None]
ProgressReport = Callable[[Progress], None]

APP_LABEL = "sh.draft.app"
"""The label on every image draftd builds: the app it was built for (which tags it may move)."""


class BuildFailed(DraftError):
    """The Dockerfile failed to build; `message` names the step and the error."""


class PushFailed(DraftError):
    """The registry refused or could not be reached."""


class Builder(Protocol):
    async def exists(self, image: Image) -> bool:
        """Whether the engine already has this exact image (then nothing is rebuilt)."""
        ...

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
        """Build `context` (an uncompressed tar) into `image` with `labels`, streaming the
        output to `log`."""
        ...

    async def adopt(self, image: Image, labels: Mapping[str, str]) -> None:
        """Record `image`, which the engine has already (an earlier build of the same files),
        as built with `labels`, as `build` records what it builds."""
        ...

    async def labels(self, image: Image) -> Mapping[str, str] | None:
        """The labels of the image this name points to now; None when no image has the name."""
        ...

    async def pushed(self, image: Image) -> bool:
        """Whether the registry already holds this tag (then nothing is re-pushed)."""
        ...

    async def push(self, image: Image, progress: ProgressReport, log: Log) -> None: ...

    async def tag(self, image: Image, extra: Image) -> None:
        """Give `image` another name (draft.toml's custom_tags)."""
        ...

    async def prune(self, app: str, keep: int, protect: Collection[str] = ()) -> list[str]:
        """Remove the images built for `app` (by `APP_LABEL`) but the newest `keep`, those a
        container uses and those named in `protect` (builds in flight); returns the names
        removed. Images in registries are not touched."""
        ...
