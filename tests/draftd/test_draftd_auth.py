"""A token is always required, on loopback too: without it draftd answers 401, and health says
little. Pages in the developer's browser are refused before the token is even looked at."""

from __future__ import annotations

import pytest
from daemon_kit import DOCKERFILE, TOKEN, DaemonFactory, digest

from draft.errors import DraftError
from draftd.api import create_app, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("draft.example", False),
    ],
)
def test_loopback_means_only_this_machine(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_draftd_refuses_to_listen_without_a_token(tmp_path, host: str) -> None:
    with pytest.raises(DraftError, match="without a token"):
        create_app(tmp_path, object(), {}, "", host=host)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "needs its token"),
        ({"Authorization": "Bearer wrong"}, "token sent to draftd is wrong"),
        ({"Authorization": f"Basic {TOKEN}"}, "token sent to draftd is wrong"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "token sent to draftd is wrong"),
    ],
)
@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
@pytest.mark.asyncio
async def test_requests_without_the_token_are_refused(
    daemons: DaemonFactory, headers, says, host: str
) -> None:
    # Bound to every interface or to loopback, reached through 127.0.0.1 only.
    daemon = await daemons.start(host=host, token=TOKEN)
    daemon.headers = headers
    for method, path in [
        ("GET", "/v1/apps"),
        ("POST", "/v1/builds"),
        ("PUT", f"/v1/blobs/{digest(DOCKERFILE)}"),
        ("GET", "/v1/builds/b-x/events"),
    ]:
        body = {"json": {}} if method == "POST" else {"data": DOCKERFILE}
        status, answer = await daemon.request(method, path, **body)
        assert status == 401, (method, path)
        assert says in answer["error"]
        assert "DRAFTD_TOKEN" in answer["hint"]
    assert not (daemon.state / "blobs" / "sha256" / digest(DOCKERFILE)[7:9]).exists()


@pytest.mark.asyncio
async def test_health_answers_anyone_but_details_need_the_token(daemons: DaemonFactory) -> None:
    daemon = await daemons.start(host="0.0.0.0", token=TOKEN)
    daemon.headers = {}
    status, anonymous = await daemon.request("GET", "/v1/health")
    assert status == 200 and set(anonymous) == {"version"}
    daemon.headers = {"Authorization": f"Bearer {TOKEN}"}
    status, detailed = await daemon.request("GET", "/v1/health")
    assert detailed["docker"] is True and detailed["kubernetes"] is False


@pytest.mark.asyncio
async def test_the_right_token_deploys(daemons: DaemonFactory) -> None:
    daemon = await daemons.start(host="0.0.0.0", token=TOKEN)
    build_id = await daemon.deploy({"Dockerfile": DOCKERFILE})
    assert (await daemon.outcome(build_id))["phase"] == "ready"
    assert TOKEN not in str(await daemon.events(build_id))


def test_draft_reads_the_token_in_the_state_folder_for_a_draftd_on_this_machine_only(
    tmp_path, monkeypatch
) -> None:
    from draft.client import configured_token

    monkeypatch.setenv("DRAFTD_STATE", str(tmp_path))
    monkeypatch.delenv("DRAFTD_TOKEN", raising=False)
    (tmp_path / "token").write_text("the-local-token\n")
    for local in ("http://127.0.0.1:7878", "http://localhost:9", "http://[::1]:7878"):
        assert configured_token(local) == "the-local-token"
    for elsewhere in ("https://draftd.example", "http://127.0.0.1.attacker.example:7878"):
        assert configured_token(elsewhere) is None
    monkeypatch.setenv("DRAFTD_TOKEN", "given")
    assert configured_token("https://draftd.example") == "given"
