"""Entry point of `draft-ls` (and `python -m server`): the language server over stdio."""

from __future__ import annotations

import argparse
import logging
import sys

from draft import __version__


def main() -> int:
    parser = argparse.ArgumentParser(prog="draft-ls", description="Draft's language server.")
    parser.add_argument("--version", action="version", version=f"draft-ls {__version__}")
    parser.add_argument("--stdio", action="store_true", help="talk over stdio (the default)")
    parser.add_argument("--log-file", help="write the server's own log here")
    args = parser.parse_args()
    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=logging.INFO)
    from server.app import build

    build().start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
