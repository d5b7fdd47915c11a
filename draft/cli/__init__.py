"""The `draft` command line: parsing, output mode and the one place errors are shown.

Each subcommand is a function taking the parsed arguments and an `Output`, and
returning an exit code. A `DraftError` anywhere becomes one clear sentence plus
what to do (or a JSON object with `--output json`) and exit code 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from draft import __version__, memory
from draft.cli import deploy, home, scaffold
from draft.cli.output import Output
from draft.errors import DraftError


def build_parser() -> argparse.ArgumentParser:
    # `--output` works before or after the command; SUPPRESS keeps a subcommand's
    # default from overwriting `draft -o json COMMAND`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--output", "-o", choices=("text", "json"), default=argparse.SUPPRESS,
        help="text for people (default), json for scripts",
    )  # fmt: skip
    parser = argparse.ArgumentParser(
        prog="draft",
        description="Scaffold an app for Kubernetes, then build and deploy it on every save.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"draft {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    scaffold.register(commands, common)
    deploy.register(commands, common)
    home.register(commands, common)
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    memory.limit_arenas()  # `draft up --watch` mostly waits, for hours
    # `kill` stops `draft up --watch` as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    out = Output(json_mode=getattr(args, "output", "text") == "json")
    try:
        code: int = args.run(args, out)
    except DraftError as error:
        out.error(error)
        return 1
    except KeyboardInterrupt:
        out.note("Interrupted.")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
