"""Entry point of `draftd` (and `python -m draftd`)."""

from __future__ import annotations

from draftd.daemon import main

if __name__ == "__main__":
    raise SystemExit(main())
