"""Packs: the template sets Draft scaffolds an app from.

A pack is a folder holding `pack.toml`, a `Dockerfile`, a `.dockerignore` and
optionally other files to add. Everything but `pack.toml` is copied into the app;
files ending in `.j2` are rendered with Jinja2 (suffix dropped) so Helm's own
`{{ }}` in the chart stay untouched.

The Helm chart is shared: every pack without a `chart/` folder of its own gets the
one chart in the built-in packs' `_chart/` folder, filled from its `pack.toml`
(`port`, `[probes]`, `[resources]`). A pack that ships `chart/` (a team's pack in
the original layout) gets exactly that chart instead.

Packs are looked up by name along a search path: the folders in
`DRAFT_PACKS_PATH` first (a team's own packs, which may override a built-in
pack of the same name), then the built-in packs shipped with Draft.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from draft.errors import PackError

PACK_FILE = "pack.toml"
PACKS_PATH_ENV = "DRAFT_PACKS_PATH"
CHART_FOLDER = "chart"
SHARED_CHART = "_chart"
"""The shared chart's folder among the built-in packs (no pack.toml: never a pack itself)."""
DEFAULT_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"memory": "512Mi"},
}


@dataclass(frozen=True)
class DetectRules:
    """What makes a folder look like an app of this pack."""

    files: tuple[str, ...] = ()
    """Marker file names (globs like `*.csproj` allowed), e.g. `go.mod`."""
    extensions: tuple[str, ...] = ()
    """Source extensions, weighted by bytes, e.g. `.go`."""


@dataclass(frozen=True)
class Probes:
    """pack.toml's `[probes]`: how Kubernetes checks the app is up (the chart's `probes`)."""

    http_path: str = ""
    """An HTTP path the readiness probe asks (e.g. `/healthz`); empty probes the TCP port."""
    initial_delay_seconds: int = 0
    """Seconds after the app has started before the first readiness probe."""
    period_seconds: int = 1
    """Seconds between readiness probes: short, so a new pod serves as soon as it can."""
    startup_seconds: int = 0
    """For slow starters (the JVM): how long the app may take to start listening before the
    kubelet restarts it (a startup probe). 0: none — liveness already allows 30 s, and
    without a startup probe the readiness probe answers as soon as the app listens."""


@dataclass(frozen=True)
class RunAs:
    """A numeric, non-root user and group (`runAsUser`, `runAsGroup`)."""

    uid: int
    gid: int

    def __str__(self) -> str:
        return f"{self.uid}:{self.gid}"


DEFAULT_USER = RunAs(10001, 10001)
"""The user a pack's image runs as when its pack.toml names none."""


@dataclass(frozen=True)
class Pack:
    name: str
    path: Path
    description: str
    port: int
    images: tuple[str, ...]
    """The base images its Dockerfile builds FROM (set-up scripts make local stand-ins)."""
    detect: DetectRules
    variables: Mapping[str, str] = field(default_factory=dict)
    """Pack-specific template variables and their defaults."""
    title: str = ""
    """The language as people say it ("Python", "C#"); pack.toml's `title`, else the name."""
    source: str = "builtin"
    """Where it was found: `builtin`, or the search-path folder it came from."""
    probes: Probes = Probes()
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: DEFAULT_RESOURCES)
    """pack.toml's `[resources]`: the container's `requests` and `limits` (the chart's)."""
    user: RunAs = field(default_factory=lambda: DEFAULT_USER)
    """pack.toml's `user = "UID:GID"`: the numeric user the image's `USER` names, which the
    chart's securityContext runs the app as (the kubelet cannot check a named user is not
    root, and the "restricted" Pod Security level requires a non-root one)."""

    @property
    def builtin(self) -> bool:
        return self.source == "builtin"

    @property
    def own_chart(self) -> bool:
        """Whether the pack ships its own `chart/` (then the shared chart is not used)."""
        return (self.path / CHART_FOLDER).is_dir()

    @property
    def chart_source(self) -> Path:
        """The folder scaffolding copies to the app's `chart/`: the pack's own, else the shared."""
        return self.path / CHART_FOLDER if self.own_chart else shared_chart_dir()


def builtin_packs_dir() -> Path:
    """The packs shipped with Draft: inside the wheel, or the repository's `packs/`."""
    installed = Path(__file__).parent / "_builtin_packs"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "packs"


def shared_chart_dir() -> Path:
    """The one chart every pack without its own `chart/` is scaffolded with."""
    return builtin_packs_dir() / SHARED_CHART


def search_path(extra: list[Path] | None = None) -> list[tuple[Path, str]]:
    """Folders to look in, first wins: explicit extras, `DRAFT_PACKS_PATH`, pack repositories
    (`draft pack-repo add`), built-ins."""
    from draft import packrepos  # packrepos knows nothing of packs; keep the import lazy

    entries: list[tuple[Path, str]] = [(p, str(p)) for p in extra or []]
    env = os.environ.get(PACKS_PATH_ENV, "")
    entries += [(Path(p), p) for p in env.split(os.pathsep) if p]
    entries += [(repo.packs_dir, f"pack-repo:{repo.name}") for repo in packrepos.repos()]
    entries.append((builtin_packs_dir(), "builtin"))
    return entries


def load_pack(folder: Path, source: str = "builtin") -> Pack:
    """Read one pack folder, with a clear error when its pack.toml is wrong."""
    manifest = folder / PACK_FILE
    try:
        raw = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PackError(f"{folder} is not a pack: it has no {PACK_FILE}.") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PackError(f"{manifest} is not valid TOML: {exc}.") from exc
    try:
        return _pack_from_toml(raw, folder, source)
    except (KeyError, TypeError, ValueError) as exc:
        raise PackError(
            f"{manifest} is malformed ({exc}).",
            "It needs name, description, port, images and a [detect] table; "
            "user, [probes] and [resources] are optional.",
        ) from exc


def _pack_from_toml(raw: dict[str, Any], folder: Path, source: str) -> Pack:
    detect = raw.get("detect", {})
    port = raw["port"]
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer from 1 to 65535, not {port!r}")
    return Pack(
        name=str(raw["name"]),
        path=folder,
        description=str(raw["description"]),
        port=port,
        images=tuple(str(i) for i in raw["images"]),
        detect=DetectRules(
            files=tuple(str(f) for f in detect.get("files", [])),
            extensions=tuple(str(e).lower() for e in detect.get("extensions", [])),
        ),
        variables={str(k): str(v) for k, v in raw.get("variables", {}).items()},
        title=str(raw.get("title") or str(raw["name"]).capitalize()),
        source=source,
        probes=_probes(raw.get("probes", {})),
        resources=_resources(raw.get("resources", DEFAULT_RESOURCES)),
        user=_user(raw.get("user", str(DEFAULT_USER))),
    )


def _user(raw: Any) -> RunAs:
    """`"UID:GID"` (or `"UID"`, the group then the same number), both numeric and not 0."""
    match = re.fullmatch(r"([0-9]+)(?::([0-9]+))?", raw) if isinstance(raw, str) else None
    if match is None:
        raise ValueError(f'user must be a numeric "UID:GID" such as "10001:10001", not {raw!r}')
    uid = int(match[1])
    gid = int(match[2]) if match[2] is not None else uid
    if uid == 0 or gid == 0 or uid > 2**31 - 1 or gid > 2**31 - 1:
        raise ValueError(f"user must not be root (0) and at most 2147483647: {raw!r}")
    return RunAs(uid, gid)


def _probes(raw: Any) -> Probes:
    if not isinstance(raw, dict):
        raise TypeError("[probes] must be a table")
    unknown = sorted(set(raw) - set(Probes.__dataclass_fields__))
    if unknown:
        raise ValueError(f"[probes] has no key {unknown[0]!r}")
    probes = Probes(**raw)
    if not isinstance(probes.http_path, str) or probes.http_path[:1] not in ("", "/"):
        raise ValueError(f"probes.http_path must be empty or start with '/': {probes.http_path!r}")
    for key, least in (("initial_delay_seconds", 0), ("period_seconds", 1), ("startup_seconds", 0)):
        value = getattr(probes, key)
        if type(value) is not int or value < least:
            raise ValueError(f"probes.{key} must be an integer of at least {least}: {value!r}")
    return probes


_RESOURCE = re.compile(r"[a-z0-9]([a-z0-9./-]*[a-z0-9])?")
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?([eE][0-9]+|[numkKMGTPE]i?)?")


def _resources(raw: Any) -> Mapping[str, Mapping[str, str]]:
    """`requests` and `limits`, each resource → a Kubernetes quantity (`cpu = "100m"`)."""
    if not isinstance(raw, dict) or not set(raw) <= {"requests", "limits"}:
        raise ValueError("[resources] holds only the tables requests and limits")
    resources: dict[str, dict[str, str]] = {}
    for kind, amounts in raw.items():
        if not isinstance(amounts, dict):
            raise TypeError(f"resources.{kind} must be a table")
        resources[kind] = {str(name): str(amount) for name, amount in amounts.items()}
        for name, amount in resources[kind].items():
            if not _RESOURCE.fullmatch(name) or not _QUANTITY.fullmatch(amount):
                raise ValueError(f"resources.{kind}.{name} = {amount!r} is not a quantity")
    return resources


def packs_in(folder: Path, source: str) -> Iterator[Pack]:
    if not folder.is_dir():
        return
    for child in sorted(folder.iterdir()):
        if (child / PACK_FILE).is_file():
            yield load_pack(child, source)


def all_packs(extra: list[Path] | None = None) -> list[Pack]:
    """Every pack on the search path, one per name, the earliest folder winning."""
    seen: dict[str, Pack] = {}
    for folder, source in search_path(extra):
        for pack in packs_in(folder, source):
            seen.setdefault(pack.name, pack)
    return sorted(seen.values(), key=lambda p: p.name)


def find_pack(name: str, extra: list[Path] | None = None) -> Pack:
    packs = all_packs(extra)
    for pack in packs:
        if pack.name == name:
            return pack
    names = ", ".join(p.name for p in packs)
    raise PackError(f"There is no pack named {name!r}.", f"Available packs: {names}.")
