"""Fixtures that start draftd (its real app, on 127.0.0.1) in a temp state folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from daemon_kit import Daemon, DaemonFactory


@pytest_asyncio.fixture
async def daemons(tmp_path: Path) -> AsyncIterator[DaemonFactory]:
    """Starts draftd apps with options; state in <tmp>/state, a sibling folder <tmp>/outside."""
    (tmp_path / "outside").mkdir()
    factory = DaemonFactory(tmp_path / "state")
    yield factory
    await factory.close()


@pytest_asyncio.fixture
async def daemon(daemons: DaemonFactory) -> Daemon:
    """draftd on 127.0.0.1 with a stand-in builder and docker target."""
    return await daemons.start()
