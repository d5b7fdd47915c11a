"""draftd's parsers of what a client sends, fuzzed: the JSON body (`services.parse_json`), the
build request it holds (`buildspec.parse_build_request`), the manifest
(`contexts.validate_manifest`) with its link resolver (`contexts._LinkResolver`), and the
folders a manifest's tar lists (`contexts._with_folders`).

Hostile manifests are generated on purpose: paths deeper than Linux allows, many links,
links built on links, loops, absolute targets, `..`. Whatever arrives, each answers or
refuses with its one documented error (`RequestRefused`, `ManifestRefused`) within the
per-input time and memory ceiling of tests/hostile/test_fuzz_parsers.py; a manifest that is
accepted, laid out on disk, has no link that leads outside its folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import build, digest, entry, link
from test_fuzz_parsers import FUZZ, nested, within_ceiling

from draftd.buildspec import BuildSpec, RequestRefused, parse_build_request
from draftd.contexts import (
    ContextFile,
    ManifestRefused,
    _LinkResolver,
    _with_folders,
    validate_manifest,
)
from draftd.services import parse_json

MAX_BLOB = 1 << 20
_THREAD = ThreadPoolExecutor(1, thread_name_prefix="fuzz-draftd")


def in_a_worker(check: Any) -> Any:
    """Run as draftd runs its parsers: in a worker thread (a smaller stack than the main one)."""
    return _THREAD.submit(check).result()


# -- manifests: names that links can point at, so links reach links and loop -----------------

NAMES = ["l0", "l1", "l2", "d/l3", "d/e/l4", "f", "d/f", "d", "e"]
PARTS = sorted({part for name in NAMES for part in name.split("/")})
SEGMENTS = [*PARTS, "..", ".", "", "x" * 256]
TARGET = st.one_of(
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=8).map("/".join),
    st.sampled_from(["/", "/etc/passwd", "..", "../..", "l0/../../x", "d/../..", "\\x", "\x00"]),
    st.text(max_size=20),
)
LINK_GRAPH = st.dictionaries(
    st.sampled_from(NAMES),
    st.lists(st.sampled_from([*PARTS, "..", "."]), min_size=1, max_size=8).map("/".join),
    max_size=len(NAMES),
).map(lambda links: [link(path, target) for path, target in links.items()])
"""Links among a few names, through folders and `..`: chains, loops, escapes, all well-formed."""
PATH = st.one_of(
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6).map("/".join),
    st.text(max_size=20),
)
ENTRY = st.one_of(
    st.builds(lambda path: entry(path, path.encode("utf-8", "replace")), PATH),
    st.builds(link, PATH, TARGET),
    st.builds(
        lambda path, key, value: entry(path) | {key: value},
        PATH,
        st.sampled_from(["digest", "size", "mode", "link", "path"]),
        st.one_of(
            st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=10),
            st.just(digest(b"x")), st.just([]), st.just({}),
        ),
    ),
)  # fmt: skip


def deep_paths(count: int, folders: int) -> list[dict[str, Any]]:
    chain = "/".join(["a"] * folders)
    return [entry(f"x{number}/{chain}") for number in range(count)]


def doubling_links(count: int) -> list[dict[str, Any]]:
    """l<i> -> l<i-1>/l<i-1>: followed naively, 2^count walks."""
    return [link("l0", "."), *(link(f"l{n}", f"l{n - 1}/l{n - 1}") for n in range(1, count))]


def chain(count: int, last: str) -> list[dict[str, Any]]:
    """c0 -> `last`, c<i> -> c<i-1>: longer than 40, more than the kernel follows."""
    return [link("c0", last), *(link(f"c{n}", f"c{n - 1}") for n in range(1, count))]


def ring(count: int, through: str) -> list[dict[str, Any]]:
    """A loop of links, each reaching the next through `through` ("", "d/..", "./")."""
    return [link(f"r{n}", f"{through}r{(n + 1) % count}") for n in range(count)]


def many_deep_links(count: int, depth: int) -> list[dict[str, Any]]:
    deep = "/".join(["d"] * depth)
    return [entry("d/f"), *(link(f"m{n}", deep) for n in range(count))]


MANIFEST = st.one_of(
    st.lists(ENTRY, max_size=30),
    LINK_GRAPH,
    st.builds(lambda graph, files: graph + files, LINK_GRAPH, st.lists(st.sampled_from(["d/e/f", "f", "e/f"]).map(entry), max_size=3, unique_by=lambda e: e["path"])),
    st.builds(deep_paths, st.integers(1, 300), st.integers(1, 3000)),
    st.builds(doubling_links, st.integers(1, 64)),
    st.builds(chain, st.integers(1, 60), st.sampled_from(["Dockerfile", "c0", "..", "/", "d"])),
    st.builds(ring, st.integers(1, 50), st.sampled_from(["", "./", "d/../", "r0/../"])),
    st.builds(many_deep_links, st.integers(1, 5000), st.integers(1, 1000)),
    st.builds(lambda a, b: a + b, st.lists(ENTRY, max_size=10), st.builds(doubling_links, st.integers(1, 45))),
    st.recursive(st.lists(ENTRY, max_size=5), lambda inner: st.builds(lambda a, b: a + b, inner, inner)),
).map(lambda entries: [entry("Dockerfile", b"FROM scratch\n"), *entries])  # fmt: skip


def leads_inside(files: tuple[ContextFile, ...], folder: Path) -> None:
    """Laid out as written (links last), no link of an accepted manifest leads outside."""
    for file in sorted(files, key=lambda f: f.link is not None):
        path = folder / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if file.link is None:
            path.write_bytes(b"")
        else:
            path.symlink_to(file.link)
    root = os.path.realpath(folder)
    for file in files:
        if file.link is not None:
            real = os.path.realpath(folder / file.path)
            assert real == root or real.startswith(root + "/"), (file, real)


@settings(FUZZ, max_examples=200)
@given(MANIFEST)
@example(deep_paths(300, 2040))
@example(many_deep_links(5000, 1000))
def test_any_manifest_is_checked_or_refused_within_the_ceiling(
    tmp_path_factory: pytest.TempPathFactory, entries: list[dict[str, Any]]
) -> None:
    def check() -> tuple[ContextFile, ...] | None:
        try:
            files = validate_manifest(entries, max_size=MAX_BLOB)
        except ManifestRefused as refused:
            assert refused.message.endswith(".") and "\n" not in refused.message
            return None
        listed = _with_folders(files)
        assert len({path for path, _ in listed}) == len(listed)
        return files

    files = within_ceiling(lambda: in_a_worker(check))
    if files is not None and len(files) < 200:
        leads_inside(files, tmp_path_factory.mktemp("laid-out"))


@FUZZ
@given(
    st.dictionaries(PATH, TARGET, max_size=40)
    | MANIFEST.map(
        lambda entries: {e["path"]: e["link"] for e in entries if isinstance(e.get("link"), str)}
    )
)
def test_the_link_resolver_answers_or_refuses_any_links_within_the_ceiling(
    links: dict[str, str],
) -> None:
    """The resolver on its own, on links validate_manifest would refuse earlier (links inside
    links, absolute or malformed targets): it ends in a target or a ManifestRefused, nothing
    else (where accepted links lead is checked above, on checked manifests)."""

    def resolve() -> None:
        resolver = _LinkResolver(links)
        for path in links:
            with contextlib.suppress(ManifestRefused):
                resolver.target(path)

    within_ceiling(lambda: in_a_worker(resolve))


JSON_WORDS = [
    b"{", b"}", b"[", b"]", b'"', b":", b",", b" ", b"\n", b"NaN", b"-Infinity", b"1e999",
    b"9" * 5000, b"0." + b"1" * 5000, b"-0", b"true", b"null", b'"app"', b'"manifest"',
    b'"settings"', b"\\ud800", b"\\u0000", b"\\", b"\xff", b"\xed\xa0\x80", "é".encode(),
    b"\xef\xbb\xbf", b'"hostile"', b"[]", b"{}",
]  # fmt: skip
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["app", "environment", "manifest", "settings", "name", "path", "link"]), inner, max_size=4),
    ),
    max_leaves=20,
)  # fmt: skip
BUILD_FIELD = st.sampled_from(["app", "environment", "manifest", "settings", "trigger", "chart"])
BUILD_BODY = st.one_of(
    MANIFEST.map(lambda entries: build(manifest=entries)),
    MANIFEST.map(lambda entries: build(chart=entries)),
    st.builds(lambda key, value: build() | {key: value}, BUILD_FIELD, JSON_VALUE),
    st.builds(
        lambda key, value: build() | {"settings": build()["settings"] | {key: value}},
        st.sampled_from(sorted(build()["settings"])), JSON_VALUE,
    ),
    JSON_VALUE,
)  # fmt: skip
BODY = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(JSON_WORDS), max_size=60).map(b"".join),
    nested("[", "]").map(str.encode),
    st.integers(0, 200_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    BUILD_BODY.map(lambda value: json.dumps(value).encode()),
    BUILD_BODY.map(lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")),
)  # fmt: skip


@FUZZ
@given(BODY)
@example(b"[" * 200_000 + b"]" * 200_000)
@example(json.dumps(build(manifest=deep_paths(300, 2040))).encode())
def test_any_body_is_parsed_or_refused_in_one_sentence_within_the_ceiling(raw: bytes) -> None:
    """What `POST /v1/builds` does with its body, in a worker thread as draftd does."""

    def parse() -> None:
        try:
            spec = parse_build_request(parse_json(raw), max_blob=MAX_BLOB)
        except (RequestRefused, ManifestRefused) as refused:
            assert refused.message.endswith((".", ")")) and "\n" not in refused.message
            return
        assert isinstance(spec, BuildSpec)

    within_ceiling(lambda: in_a_worker(parse))


def test_the_fuzzed_strategies_reach_the_resolver() -> None:
    """The generated manifests are not all refused before links are followed: some pass."""
    accepted = validate_manifest(
        [entry("Dockerfile", b"FROM scratch\n"), *doubling_links(30), *chain(5, "Dockerfile")],
        max_size=MAX_BLOB,
    )
    assert sum(f.link is not None for f in accepted) == 35
    with pytest.raises(ManifestRefused, match="loop"):
        validate_manifest([entry("Dockerfile"), *ring(3, "d/../")], max_size=MAX_BLOB)
