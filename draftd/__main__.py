"""Entry point of `draftd`."""

from __future__ import annotations

import sys


def main() -> int:
    sys.stderr.write("draftd: the daemon is not built yet.\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
