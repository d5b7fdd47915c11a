"""`draft config`, `draft home`, `draft version` and `draft pack-repo`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from draft import __version__, packrepos, packs, userconfig
from draft.cli.output import Output
from draft.client import DEFAULT_URL, DraftdClient, configured_token, configured_url
from draft.errors import DraftError
from draft.home import draftd_state, home


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    config = commands.add_parser(
        "config",
        parents=[common],
        help="user-level defaults (registry, target, daemon_url) that draft.toml overrides",
    )
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = actions.add_parser("get", parents=[common], help="print one setting")
    get.add_argument("key", choices=sorted(userconfig.KEYS))
    set_ = actions.add_parser("set", parents=[common], help="change one setting")
    set_.add_argument("key", choices=sorted(userconfig.KEYS))
    set_.add_argument("value")
    unset = actions.add_parser("unset", parents=[common], help="remove one setting")
    unset.add_argument("key", choices=sorted(userconfig.KEYS))
    actions.add_parser("list", parents=[common], help="every setting and what it does")
    config.set_defaults(run=run_config)

    where = commands.add_parser("home", parents=[common], help="print Draft's home folder")
    where.set_defaults(run=run_home)

    version = commands.add_parser(
        "version", parents=[common], help="the client's version and the reachable draftd's"
    )
    version.set_defaults(run=run_version)

    repo = commands.add_parser("pack-repo", parents=[common], help="team pack repositories")
    repo_actions = repo.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = repo_actions.add_parser(
        "add", parents=[common], help="add a git repository (URL or path) or a folder with packs/"
    )
    add.add_argument("source")
    add.add_argument("--name", help="what to call it (default: from the URL)")
    repo_actions.add_parser("list", parents=[common], help="the repositories and their packs")
    update = repo_actions.add_parser("update", parents=[common], help="git pull (one or all)")
    update.add_argument("name", nargs="?")
    remove = repo_actions.add_parser("remove", parents=[common], help="forget one")
    remove.add_argument("name")
    repo.set_defaults(run=run_pack_repo)


def run_config(args: argparse.Namespace, out: Output) -> int:
    if args.action == "get":
        value = userconfig.get(args.key)
        out.line(value or "")
        out.result({args.key: value})
        return 0 if value is not None else 1
    if args.action == "set":
        userconfig.set_value(args.key, args.value)
        out.note(f"{args.key} = {args.value} (in {userconfig.path()})")
        out.result({args.key: args.value})
        return 0
    if args.action == "unset":
        removed = userconfig.unset(args.key)
        out.note(f"{args.key} removed" if removed else f"{args.key} was not set")
        out.result({"removed": removed})
        return 0
    current = userconfig.values()
    for key, (doc, _) in userconfig.KEYS.items():
        out.line(f"{key:<12}{current.get(key, '(not set)'):<32}{doc}")
    out.result(current)
    return 0


def run_home(args: argparse.Namespace, out: Output) -> int:
    out.line(str(home()))
    out.result({"home": str(home()), "draftdState": str(draftd_state())})
    return 0


def run_version(args: argparse.Namespace, out: Output) -> int:
    url = configured_url() or DEFAULT_URL

    async def daemon_version() -> str | None:
        async with DraftdClient(url, configured_token(url)) as client:
            try:
                return str((await client.health()).get("version"))
            except DraftError:
                return None

    daemon = asyncio.run(daemon_version())
    out.line(f"draft   {__version__}")
    out.line(f"draftd  {daemon} ({url})" if daemon else f"draftd  not reachable at {url}")
    out.result({"client": __version__, "draftd": daemon, "draftdUrl": url})
    return 0


def run_pack_repo(args: argparse.Namespace, out: Output) -> int:
    if args.action == "add":
        repo = packrepos.add(args.source, args.name)
        names = sorted(p.name for p in packs.packs_in(repo.packs_dir, repo.name))
        out.line(f"Added {repo.name} ({repo.source}): {', '.join(names) or 'no packs'}")
        out.result({"name": repo.name, "path": str(repo.path), "packs": names})
    elif args.action == "update":
        updated = packrepos.update(args.name)
        out.line("Updated " + (", ".join(r.name for r in updated) or "nothing"))
        out.result([r.name for r in updated])
    elif args.action == "remove":
        removed = packrepos.remove(args.name)
        out.line(f"Removed {removed.name}")
        out.result({"removed": removed.name})
    else:
        listed = []
        for repo in packrepos.repos():
            names = sorted(p.name for p in packs.packs_in(repo.packs_dir, repo.name))
            out.line(f"{repo.name:<20}{repo.source:<40}{', '.join(names)}")
            listed.append({"name": repo.name, "source": repo.source, "packs": names})
        out.result(listed)
    return 0
