"""Scaffolding: the files a pack adds to an app, planned first, then written.

Planning is pure (no writes), so the language server can turn the same plan
into a WorkspaceEdit the editor shows and can undo, while the CLI writes it.
Nothing that exists is ever overwritten: it is reported as skipped.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from draft import config
from draft.errors import PackError
from draft.packs import CHART_FOLDER, PACK_FILE, Pack

TEMPLATE_SUFFIX = ".j2"


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    """Relative to the app folder, with `/` separators."""
    content: bytes
    executable: bool = False


@dataclass(frozen=True)
class ScaffoldResult:
    root: Path
    pack: Pack
    app_name: str
    written: tuple[Path, ...]
    skipped: tuple[Path, ...]


def template_variables(pack: Pack, app_name: str) -> dict[str, object]:
    """What `.j2` files (the pack's and the shared chart's) may use: the pack's own variables,
    then Draft's: `app_name`, `pack`, and pack.toml's `port`, `probes`, `resources` and `user`
    (`uid`, `gid`)."""
    return {
        **pack.variables,
        "app_name": app_name,
        "port": pack.port,
        "pack": pack.name,
        "probes": dataclasses.asdict(pack.probes),
        "resources": {kind: dict(amounts) for kind, amounts in pack.resources.items()},
        "user": dataclasses.asdict(pack.user),
    }


def _files_under(folder: Path, prefix: Path) -> Iterator[tuple[Path, Path]]:
    """(file, its path in the app) for every file under `folder`, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            yield full, prefix / full.relative_to(folder)


def _pack_files(pack: Pack) -> Iterator[tuple[Path, Path]]:
    """The pack's files but pack.toml, and the shared chart under `chart/` unless it has one."""
    for full, relative in _files_under(pack.path, Path()):
        if relative != Path(PACK_FILE):
            yield full, relative
    if not pack.own_chart:
        yield from _files_under(pack.chart_source, Path(CHART_FOLDER))


def plan(
    pack: Pack, app_name: str, environment: str = config.DEFAULT_ENVIRONMENT
) -> list[PlannedFile]:
    """Every file `draft create` would add, in a stable order, draft.toml last."""
    import jinja2  # only when scaffolding: the language server need not carry it otherwise

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    variables = template_variables(pack, app_name)
    planned: list[PlannedFile] = []
    for source, relative in _pack_files(pack):
        data = source.read_bytes()
        if source.suffix == TEMPLATE_SUFFIX:
            relative = relative.with_suffix("")
            try:
                text = env.from_string(data.decode("utf-8")).render(variables)
            except jinja2.TemplateError as exc:
                raise PackError(
                    f"Pack {pack.name!r} has a broken template {source}: {exc}."
                ) from exc
            data = text.encode("utf-8")
        executable = os.access(source, os.X_OK)
        planned.append(PlannedFile(Path(relative.as_posix()), data, executable))
    planned.append(
        PlannedFile(
            Path(config.CONFIG_FILE),
            config.render_new(app_name, environment=environment).encode("utf-8"),
        )
    )
    return planned


def write(root: Path, pack: Pack, app_name: str, files: list[PlannedFile]) -> ScaffoldResult:
    """Write what does not exist yet; report the rest as skipped."""
    written: list[Path] = []
    skipped: list[Path] = []
    for item in files:
        target = root / item.path
        if target.exists() or target.is_symlink():
            skipped.append(item.path)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # "x" mode: a file that appeared since the check is still never overwritten.
        try:
            with target.open("xb") as out:
                out.write(item.content)
        except FileExistsError:
            skipped.append(item.path)
            continue
        if item.executable:
            target.chmod(target.stat().st_mode | 0o111)
        written.append(item.path)
    return ScaffoldResult(root, pack, app_name, tuple(written), tuple(skipped))


def create(root: Path, pack: Pack, app_name: str) -> ScaffoldResult:
    return write(root, pack, app_name, plan(pack, app_name))
