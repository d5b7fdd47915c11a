"""draftd as a command whose builder never returns: a Docker call stuck in a worker thread.

Run as `python stuck_draftd.py --port 0 --state-dir STATE` by tests of stopping and killing
draftd (everything but the builder is draftd's real code; see daemon_kit's module doc).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/, for kit
from daemon_kit import FakeBuilder, FakeTarget

from draftd.daemon import main


class StuckBuilder(FakeBuilder):
    async def build(self, context: Any, image: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(threading.Event().wait)  # never returns


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], lambda _: (StuckBuilder(), {"docker": FakeTarget()})))
