"""Pack repositories: a team's packs, from a git repository (or a folder) with a `packs/` folder.

`draft pack-repo add URL|PATH` clones a git repository into `<DRAFT_HOME>/pack-repos/<name>`
(a plain folder is used where it is); `update` pulls; `remove` forgets. Their packs take part
in `draft create --pack`, `draft packs` and detection, after `DRAFT_PACKS_PATH` and before the
built-in packs — so a team's python pack wins over Draft's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from draft.errors import PackError
from draft.home import home

INDEX = "pack-repos.toml"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


@dataclass(frozen=True)
class PackRepo:
    name: str
    source: str
    path: Path
    git: bool

    @property
    def packs_dir(self) -> Path:
        return self.path / "packs"


def _folder() -> Path:
    return home() / "pack-repos"


def repos() -> list[PackRepo]:
    """The added repositories, in the order they were added (never raises)."""
    try:
        data = tomllib.loads((_folder() / INDEX).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    found = []
    for name, entry in data.get("repos", {}).items():
        if isinstance(entry, dict) and "path" in entry:
            found.append(
                PackRepo(
                    name, str(entry.get("source", "")), Path(entry["path"]), bool(entry.get("git"))
                )
            )
    return found


def add(source: str, name: str | None = None) -> PackRepo:
    local = Path(source).expanduser()
    is_folder = local.is_dir() and not (local / ".git").exists()
    name = name or re.sub(r"\.git$", "", source.rstrip("/").rsplit("/", 1)[-1]).lower()
    if not _NAME.fullmatch(name):
        raise PackError(
            f"{name!r} cannot name a pack repository.", "Pass --name NAME (a-z, 0-9, -)."
        )
    if any(r.name == name for r in repos()):
        raise PackError(
            f"A pack repository named {name} exists.", "Remove it first, or pass --name."
        )
    if is_folder:
        repo = PackRepo(name, source, local.resolve(), git=False)
    else:
        target = _folder() / name
        target.parent.mkdir(parents=True, exist_ok=True)
        url = str(local.resolve()) if local.exists() else source
        _git(["clone", "--quiet", "--depth", "1", url, str(target)], f"clone {source}")
        repo = PackRepo(name, source, target, git=True)
    if not repo.packs_dir.is_dir():
        if repo.git:
            shutil.rmtree(repo.path, ignore_errors=True)
        raise PackError(f"{source} has no packs/ folder.", "A pack repository holds packs/<name>/.")
    _save([*repos(), repo])
    return repo


def update(name: str | None = None) -> list[PackRepo]:
    """`git pull` the named repository, or every git one."""
    chosen = [r for r in repos() if name in (None, r.name)]
    if name is not None and not chosen:
        raise PackError(f"There is no pack repository named {name}.", "`draft pack-repo list`.")
    for repo in chosen:
        if repo.git:
            _git(["-C", str(repo.path), "pull", "--quiet", "--ff-only"], f"update {repo.name}")
    return chosen


def remove(name: str) -> PackRepo:
    found = next((r for r in repos() if r.name == name), None)
    if found is None:
        raise PackError(f"There is no pack repository named {name}.", "`draft pack-repo list`.")
    if found.git:
        shutil.rmtree(found.path, ignore_errors=True)
    _save([r for r in repos() if r.name != name])
    return found


def _save(entries: list[PackRepo]) -> None:
    document = tomlkit.document()
    table = tomlkit.table()
    for repo in entries:
        item = tomlkit.table()
        item.update({"source": repo.source, "path": str(repo.path), "git": repo.git})
        table[repo.name] = item
    document["repos"] = table
    _folder().mkdir(parents=True, exist_ok=True)
    (_folder() / INDEX).write_text(tomlkit.dumps(document), encoding="utf-8")


def _git(args: list[str], what: str) -> None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PackError(f"git could not {what}: {error}.", "Is git installed?") from error
    if done.returncode != 0:
        raise PackError(f"git could not {what}: {done.stderr.strip()[-300:]}")
