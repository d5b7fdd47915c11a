"""Entry point of `draft-ls`."""

from __future__ import annotations

import sys


def main() -> int:
    sys.stderr.write("draft-ls: the language server is not built yet.\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
