"""Work per request is bounded: no body or manifest can hang draftd, crash a handler, or keep
its workers busy; what is refused is a 400 with one sentence, never a 500 and a traceback."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest
from daemon_kit import DOCKERFILE, Daemon, Link, digest, manifest, settings
from kit import Draftd
from waiting import until

from draftd.contexts import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_LINK_WORK,
    ContextFile,
    ManifestRefused,
    _with_folders,
    validate_manifest,
)

APP = {"Dockerfile": DOCKERFILE, "app.py": b"print('hi')\n"}


def doubling_links(count: int) -> dict[str, bytes | Link]:
    """Link i points to l{i-1}/l{i-1}: followed naively, l{count-1} costs 2^count walks."""
    links: dict[str, bytes | Link] = {"l0": Link(".")}
    for number in range(1, count):
        links[f"l{number}"] = Link(f"l{number - 1}/l{number - 1}")
    return links


def build_body(entries: list[dict], **overrides: object) -> dict:
    return {
        "app": "hello",
        "environment": "development",
        "manifest": entries,
        "settings": settings(**overrides),
        "trigger": "save",
    }


def test_links_built_on_links_are_resolved_once_each() -> None:
    files = {**APP, **doubling_links(41)}  # 6.5 KB of manifest: 2^40 walks, followed naively
    started = time.monotonic()
    checked = validate_manifest(manifest(files), max_size=1 << 20)
    assert len(checked) == 43
    assert time.monotonic() - started < 1


def test_links_that_take_too_many_steps_in_all_are_refused() -> None:
    deep = "/".join(["d"] * 1000)  # each link walks 1000 segments, each longer than the last
    links = {f"l{n}": Link(deep) for n in range(MAX_LINK_WORK // 400_000 + 3)}
    started = time.monotonic()
    with pytest.raises(ManifestRefused, match=f"take more than {MAX_LINK_WORK} steps"):
        validate_manifest(manifest({**APP, **links}), max_size=1 << 20)
    assert time.monotonic() - started < 2


@pytest.mark.asyncio
async def test_hostile_link_manifests_leave_draftd_answering(daemon: Daemon) -> None:
    body = build_body(manifest({**APP, **doubling_links(41)}))

    async def post(number: int) -> int:
        app = f"app-{number}"
        status, _ = await daemon.request(
            "POST", "/v1/builds", json=body | {"app": app, "settings": settings(app)}
        )
        return status

    async with asyncio.timeout(5):
        statuses = await asyncio.gather(*(post(n) for n in range(12)))
        assert statuses == [202] * 12
        started = time.monotonic()
        status, _ = await daemon.request("GET", "/v1/health")
        assert status == 200 and time.monotonic() - started < 1


def one_sentence(answer: dict) -> None:
    assert answer["error"].endswith(".") and "\n" not in answer["error"], answer
    assert "internal error" not in answer["error"]
    assert len(answer["error"]) < 300


MANIFEST = json.dumps(build_body(manifest(APP))).encode()
BAD_BODIES = [
    pytest.param(b"[" * 50_000 + b"]" * 50_000, "application/json", "nests", id="deep-array"),
    pytest.param(
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json", "nests", id="deep-object"
    ),
    pytest.param(b'{"app": "h\xff\xfe"}', "application/json", "not valid UTF-8", id="bad-utf8"),
    pytest.param(
        MANIFEST[:-1] + b', "x": "\xed\xa0\x80"}', "application/json", "UTF-8", id="surrogate-utf8"
    ),
    pytest.param(
        b'{"app": ' + b"9" * 5000 + b"}", "application/json", "too many digits", id="5000-digits"
    ),
    pytest.param(b'{"app": NaN}', "application/json", "NaN is not a JSON number", id="nan"),
    pytest.param(b'{"app": -Infinity}', "application/json", "not a JSON number", id="infinity"),
    pytest.param(
        MANIFEST, "application/json; charset=no-such-charset", "UTF-8", id="unknown-charset"
    ),
    pytest.param(MANIFEST, "application/json; charset=latin-1", "UTF-8", id="latin-1"),
    pytest.param(b"{not json", "application/json", "not JSON", id="not-json"),
]


@pytest.mark.parametrize(("body", "content_type", "says"), BAD_BODIES)
@pytest.mark.asyncio
async def test_a_malformed_body_is_a_400_with_one_sentence(
    daemon: Daemon, body: bytes, content_type: str, says: str
) -> None:
    headers = {**daemon.headers, "Content-Type": content_type}
    for path in ("/v1/builds", "/v1/apps/hello/development/exec"):
        status, answer = await daemon.request("POST", path, data=body, headers=headers)
        assert status == 400, (path, answer)
        assert says in answer["error"]
        one_sentence(answer)


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        pytest.param(2**32, "4294967296", id="2^32"),
        pytest.param(2**64 + 0o644, "18446744073709552036", id="2^64+0644"),
        pytest.param(2**200, "1606938044258990", id="2^200"),
        pytest.param(-(2**70), "-", id="-2^70"),
        pytest.param(10**4000, "mode", id="4001-digits"),
    ],
)
@pytest.mark.asyncio
async def test_a_mode_past_32_bits_is_refused_not_a_crash(
    daemon: Daemon, mode: int, says: str
) -> None:
    entries = manifest(APP)
    entries[1]["mode"] = mode
    status, answer = await daemon.request("POST", "/v1/builds", json=build_body(entries))
    assert status == 400, answer
    assert "'app.py' has mode" in answer["error"] and says in answer["error"]
    one_sentence(answer)


@pytest.mark.asyncio
async def test_a_huge_value_is_quoted_short(daemon: Daemon) -> None:
    entries = manifest(APP)
    entries[1]["size"] = ["x" * 100_000] * 100
    status, answer = await daemon.request("POST", "/v1/builds", json=build_body(entries))
    assert status == 400
    one_sentence(answer)
    status, answer = await daemon.request(
        "POST", "/v1/builds", json=build_body(manifest(APP)) | {"environment": "e" * 1_000_000}
    )
    assert status == 400
    one_sentence(answer)
    assert digest(b"") not in answer["error"]


STUCK_DRAFTD = Path(__file__).with_name("stuck_draftd.py")


def test_draftd_stops_within_5_seconds_whatever_its_workers_do(tmp_path: Path) -> None:
    draftd = Draftd.started(tmp_path / "state", [sys.executable, str(STUCK_DRAFTD)])
    try:
        ids = []
        for number in range(8):
            app = f"stuck-{number}"
            status, created = draftd.call(
                "POST",
                "/v1/builds",
                build_body(manifest(APP)) | {"app": app, "settings": settings(app)},
            )
            assert status == 202, created
            for missing in created["missing"]:
                data = next(d for d in APP.values() if digest(d) == missing)
                assert draftd.call("PUT", f"/v1/blobs/{missing}", data=data)[0] == 201
            ids.append(created["buildId"])
        until(
            lambda: all(
                draftd.call("GET", f"/v1/builds/{i}")[1]["phase"] == "building" for i in ids
            ),
            10,
            "the builds never started",
        )
        # Eight workers are stuck in the builder; draftd still answers.
        assert draftd.call("GET", "/v1/apps/stuck-0/development/history", timeout=2) == (200, [])
        started = time.monotonic()
        draftd.stop()
        assert draftd.process is not None and draftd.process.returncode == 0
        assert time.monotonic() - started < 5
        assert not (draftd.state / "draftd.json").exists()
    finally:
        draftd.kill()


@pytest.mark.parametrize("order", ["first-to-last", "last-to-first"])
def test_a_chain_of_links_longer_than_the_kernel_follows_is_refused_in_any_order(
    order: str,
) -> None:
    chain = {"c0": Link("Dockerfile"), **{f"c{n}": Link(f"c{n - 1}") for n in range(1, 46)}}
    entries = manifest({**APP, **chain})
    if order == "last-to-first":
        entries.reverse()
    with pytest.raises(ManifestRefused, match="chain of more than 40"):
        validate_manifest(entries, max_size=1 << 20)
    fine = manifest({**APP, **{k: v for k, v in chain.items() if int(k[1:]) <= 40}})
    assert len(validate_manifest(fine, max_size=1 << 20)) == 43


def deep_paths(count: int, folders: int, name: str = "a") -> dict[str, bytes | Link]:
    """`count` files, each `folders` deep in a chain of its own: x0/a/a/…/f, x1/a/a/…/f, …"""
    chain = "/".join([name] * (folders - 1))
    return {f"x{number}/{chain}/f": b"x" for number in range(count)}


@pytest.mark.asyncio
async def test_a_manifest_of_paths_deeper_than_linux_allows_is_refused_at_once(
    daemon: Daemon,
) -> None:
    # 300 paths of 2,040 folders (4 KB each, as long as a path may be): walked prefix by
    # prefix, 5 s of CPU to check and 40 s and gigabytes to list the tar's folders.
    body = build_body(manifest({**APP, **deep_paths(300, 2040)}))
    async with asyncio.timeout(20):
        started = time.monotonic()
        status, answer = await daemon.request("POST", "/v1/builds", json=body)
        assert status == 400, answer
        assert f"more than {MAX_DEPTH} folders deep" in answer["error"]
        one_sentence(answer)
        assert time.monotonic() - started < 3
        started = time.monotonic()
        status, _ = await daemon.request("GET", "/v1/health")
        assert status == 200 and time.monotonic() - started < 1


def test_paths_as_deep_as_allowed_are_checked_and_listed_in_linear_time() -> None:
    deep = deep_paths(40, MAX_DEPTH, name="d" * 14)  # 40 paths of 256 folders, 3.9 KB each
    started = time.monotonic()
    checked = validate_manifest(manifest({**APP, **deep}), max_size=1 << 20)
    listed = _with_folders(checked)
    assert time.monotonic() - started < 2
    assert len(checked) == 42
    assert len(listed) == 42 + 40 * MAX_DEPTH  # each file in a chain of 256 folders of its own
    assert len(listed) == len({path for path, _ in listed})


def test_a_manifest_of_more_folders_than_files_allowed_is_refused_at_once() -> None:
    count = MAX_ENTRIES // MAX_DEPTH + 10  # about 400 files, each in a chain of 256 folders
    started = time.monotonic()
    with pytest.raises(ManifestRefused, match=f"draftd accepts at most {MAX_ENTRIES}"):
        validate_manifest(manifest(deep_paths(count, MAX_DEPTH)), max_size=1 << 20)
    assert time.monotonic() - started < 2


def test_the_tar_lists_each_folder_once_before_what_it_holds() -> None:
    paths = ["a/b/c", "a!", "a/b!", "a-b/c/d", "a/b/d/e", "b", "a/c", "a/b/c!/x", "ab/c"]
    files = [ContextFile(path, digest(b""), 0, 0o644) for path in paths]
    listed = [(path, file is None) for path, file in _with_folders(files)]
    assert listed == [
        ("a", True),
        ("a/b", True),
        ("a/b/c", False),
        ("a/b/c!", True),
        ("a/b/c!/x", False),
        ("a/b/d", True),
        ("a/b/d/e", False),
        ("a/b!", False),
        ("a/c", False),
        ("a!", False),
        ("a-b", True),
        ("a-b/c", True),
        ("a-b/c/d", False),
        ("ab", True),
        ("ab/c", False),
        ("b", False),
    ]


def test_an_entry_inside_a_file_is_refused_wherever_it_sorts() -> None:
    for inside in ("a/b", "a/b/c/d", "a/!"):
        files = {"a": b"x", "a!": b"y", "a-b": b"z", inside: b"w"}
        with pytest.raises(ManifestRefused, match=f"{inside!r} is inside 'a', which is a file"):
            validate_manifest(manifest(files), max_size=1 << 20)
    with pytest.raises(ManifestRefused, match="'l/x' is inside 'l', which is a link"):
        validate_manifest(manifest({"l": Link("."), "l/x": b"x"}), max_size=1 << 20)
