"""Hundreds of hostile requests against a real draftd: cross-site pages, DNS rebinding, no
token, non-JSON bodies, path traversal, absolute paths, escaping links, devices, huge sizes,
deep JSON, bad UTF-8… Each is refused with a 4xx and one sentence, and nothing is written
outside draftd's store — nor inside it, but for its own bookkeeping."""

from __future__ import annotations

import contextlib
import http.client
import json
from pathlib import Path

import pytest
from corpus import CASES, PWNED, Case
from kit import Draftd

from draftd.api import MAX_ERROR

STORE = {"blobs", "builds", "history", "apps", "token", "draftd.json", "draftd.lock"}


def send(draftd: Draftd, case: Case) -> tuple[int, bytes]:
    """The request exactly as the case says, headers and all (http.client adds nothing)."""
    port = draftd.url.rsplit(":", 1)[1]
    headers: dict[str, str | None] = {
        "Host": f"127.0.0.1:{port}",
        "Authorization": f"Bearer {draftd.token}",
    }
    if case.body is not None:
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(case.body))
    headers |= case.headers
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    try:
        path = case.path.format(port=port, token=draftd.token)
        connection.putrequest(case.method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            if value is not None:
                connection.putheader(name, value.format(port=port, token=draftd.token))
        # Refused before the whole body was read: the answer is there all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.endheaders(case.body)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def written(root: Path) -> set[str]:
    """Every path under the test's folder but draftd's store, and any "pwned" one anywhere."""
    found = {str(p.relative_to(root)) for p in root.rglob("*") if "state" not in p.parts}
    found |= {str(p) for p in (root / "state").rglob("*pwned*")}
    return found | {str(p) for p in Path(PWNED).parent.glob(Path(PWNED).name + "*")}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_request_is_refused_with_one_sentence_and_writes_nothing(
    hostile_draftd: Draftd, case: Case
) -> None:
    root = hostile_draftd.state.parent
    before = written(root)
    blobs = hostile_draftd.blobs()
    status, raw = send(hostile_draftd, case)
    assert status in case.status, (status, raw[:300])
    answer = json.loads(raw)
    error = answer["error"]
    assert error and "\n" not in error and len(error) <= MAX_ERROR, error
    assert error.endswith((".", "…")), error
    assert "internal error" not in error
    assert case.says in error, error
    assert isinstance(answer["hint"], str)
    assert written(root) == before
    assert hostile_draftd.blobs() == blobs
    assert {p.name for p in hostile_draftd.state.iterdir()} <= STORE
    status, builds = hostile_draftd.call("GET", "/v1/apps/hostile/development/history")
    assert (status, builds) == (200, [])


def test_the_corpus_is_large_and_draftd_logged_no_bug(hostile_draftd: Draftd) -> None:
    assert len(CASES) >= 200
    assert sum(1 for c in CASES if "Origin" in c.headers or "Host" in c.headers) >= 100
    log = (hostile_draftd.state.parent / "draftd.log").read_text()
    assert "Traceback" not in log and "failed on a bug" not in log
    assert hostile_draftd.call("GET", "/v1/apps")[0] == 200
