"""Which target each app went to, kept on disk so status, logs and delete survive a restart.

One small JSON file per app and environment, `<state>/apps/<app>/<env>.json`,
written atomically. App and environment names are checked before they get
here (`draftd.buildspec.app_key`); the path check below is a second guard.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from draftd.model import AppKey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppRecord:
    """What draftd last deployed for one app and environment, and where."""

    app: str
    environment: str
    target: str
    build_id: str
    image: str
    url: str | None = None

    @property
    def key(self) -> AppKey:
        return AppKey(self.app, self.environment)


class AppRecords:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def save(self, record: AppRecord) -> None:
        path = self._path(record.key)
        path.parent.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as out:
            json.dump(asdict(record), out)
        Path(out.name).replace(path)

    def get(self, key: AppKey) -> AppRecord | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return AppRecord(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as error:
            log.warning("ignoring the unreadable app record %s: %s", path, error)
            return None

    def all(self) -> list[AppRecord]:
        found = []
        for path in sorted(self.folder.glob("*/*.json")):
            record = self.get(AppKey(path.parent.name, path.stem))
            if record is not None:
                found.append(record)
        return found

    def forget(self, key: AppKey) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: AppKey) -> Path:
        for name in (key.app, key.environment):
            if not name or "/" in name or "\x00" in name or name.startswith("."):
                raise ValueError(f"unsafe app record name {name!r}")
        return self.folder / key.app / f"{key.environment}.json"
