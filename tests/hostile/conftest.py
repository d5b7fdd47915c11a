"""The hostile suite's draftd: the real daemon as a command (`python -m draftd`), on loopback,
in a temporary folder beside one it must never write to (`outside/`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kit import Draftd


@pytest.fixture(scope="module")
def hostile_draftd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Draftd]:
    root = tmp_path_factory.mktemp("hostile")
    outside = root / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("draftd must never write beside its state folder\n")
    draftd = Draftd.started(root / "state")
    yield draftd
    draftd.stop()
