"""The kubernetes target's tests run against an HTTP-level Kubernetes API (see emulator.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from emulator import Cluster, kubernetes_api


@pytest_asyncio.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """kmock's Kubernetes emulator over real HTTP, with what Helm's client needs added, and a
        kubeconfig naming it. An emulator only where a real cluster cannot show the behaviour quickly
    (tests/cluster/ has the real one)."""
    async with kubernetes_api(tmp_path) as api:
        yield api
