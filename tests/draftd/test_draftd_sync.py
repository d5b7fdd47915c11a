"""Sync through draftd's real pipeline: which saves skip the build, and that a sync always
starts from what the container holds now, even when an earlier sync landed meanwhile."""

from __future__ import annotations

import pytest
import pytest_asyncio
from daemon_kit import DOCKERFILE, Daemon, DaemonFactory, SyncingTarget
from waiting import until_async

from draftd.model import AppKey

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def syncing(daemons: DaemonFactory) -> tuple[Daemon, SyncingTarget]:
    """draftd whose docker target can be synced into."""
    target = SyncingTarget()
    return await daemons.start(targets={"docker": target}), target


async def test_a_save_of_copied_code_is_synced_and_not_built(
    syncing: tuple[Daemon, SyncingTarget],
) -> None:
    daemon, target = syncing
    first = await daemon.deploy({"Dockerfile": DOCKERFILE, "app.py": b"v1"})
    assert (await daemon.outcome(first))["phase"] == "ready"

    second = await daemon.deploy({"Dockerfile": DOCKERFILE, "app.py": b"v2"})
    events = await daemon.events(second)

    assert events[-1]["phase"] == "ready"
    assert "building" not in {e["phase"] for e in events}
    assert len(daemon.builder.contexts) == 1, "only the first deploy built an image"
    assert target.synced == [(second, f"c-{first}", ["app/app.py"])]


async def test_a_dockerfile_change_builds_and_the_next_save_syncs_into_the_new_container(
    syncing: tuple[Daemon, SyncingTarget],
) -> None:
    daemon, target = syncing
    await daemon.outcome(await daemon.deploy({"Dockerfile": DOCKERFILE, "app.py": b"v1"}))
    changed = DOCKERFILE + b"ENV MODE=dev\n"
    rebuilt = await daemon.deploy({"Dockerfile": changed, "app.py": b"v1"})
    events = await daemon.events(rebuilt)
    assert "building the image: the Dockerfile changed" in {e["message"] for e in events}
    synced = await daemon.deploy({"Dockerfile": changed, "app.py": b"v2"})
    await daemon.outcome(synced)
    assert target.synced == [(synced, f"c-{rebuilt}", ["app/app.py"])]


async def test_a_save_queued_behind_a_sync_copies_what_changed_since_that_sync(
    syncing: tuple[Daemon, SyncingTarget],
) -> None:
    daemon, target = syncing
    first = {"Dockerfile": DOCKERFILE, "app.py": b"v1", "util.py": b"u1"}
    await daemon.outcome(await daemon.deploy(first))

    asked: list[str] = []  # which builds asked whether they can sync
    can_sync = target.can_sync

    async def recording(key: AppKey, container: str) -> bool:
        asked.append(container)
        return await can_sync(key, container)

    target.can_sync = recording  # type: ignore[method-assign]
    syncing = await daemon.deploy({**first, "app.py": b"v2"})
    target.hold(syncing)
    await until_async(lambda: target.synced, 5, "the first sync did not start")
    # Against the first deploy only util.py differs; against the sync under way, app.py too.
    newest = await daemon.deploy({**first, "util.py": b"u2"})
    # Once it may sync, the newest build goes straight on to wait for the deploy lock.
    await until_async(lambda: len(asked) == 2, 5, "the newest build did not plan its sync")
    target.holds[syncing].set()

    assert (await daemon.outcome(syncing))["phase"] == "superseded"
    assert (await daemon.outcome(newest))["phase"] == "ready"
    assert target.synced[-1] == (newest, target.synced[0][1], ["app/app.py", "app/util.py"])


async def test_sync_false_builds_every_save(
    syncing: tuple[Daemon, SyncingTarget],
) -> None:
    daemon, target = syncing
    await daemon.outcome(
        await daemon.deploy({"Dockerfile": DOCKERFILE, "app.py": b"v1"}, sync=False)
    )
    again = await daemon.deploy({"Dockerfile": DOCKERFILE, "app.py": b"v2"}, sync=False)
    assert (await daemon.outcome(again))["phase"] == "ready"
    assert len(daemon.builder.contexts) == 2
    assert target.synced == []


async def test_a_container_gone_in_the_middle_of_a_sync_is_replaced_by_a_build(
    syncing: tuple[Daemon, SyncingTarget],
) -> None:
    daemon, target = syncing
    await daemon.outcome(await daemon.deploy({"Dockerfile": DOCKERFILE, "app.py": b"v1"}))
    target.vanish = True
    again = await daemon.deploy({"Dockerfile": DOCKERFILE, "app.py": b"v2"})
    events = await daemon.events(again)
    assert events[-1]["phase"] == "ready"
    assert f"building the image: c-{target.deployed[0]} is gone" in {e["message"] for e in events}
    assert target.deployed[-1] == again, "built and deployed after all"
    assert len(daemon.builder.contexts) == 2
