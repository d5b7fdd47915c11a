"""Hostile requests to draftd, each with the refusal it must get: what a web page (cross-site,
DNS rebinding), a careless client and a hostile one can send. `{port}` and `{token}` in a
path or header are the real draftd's; every body is bytes as sent.

Each case is refused with a 4xx and one sentence, before anything is stored
(tests/hostile/test_requests.py); "pwned" names every path an attack tries to write.
"""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import dataclass, field
from typing import Any

from kit import build_settings

PWNED = "/tmp/draft-hostile-pwned"
DOCKERFILE = b"FROM scratch\nCOPY . /app\n"
APP = "hostile"
ENV = "development"


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    """On top of a loopback Host, the token and (with a body) application/json; None drops one."""
    status: tuple[int, ...] = (400,)
    says: str = ""
    """Words the error must contain (the refusal is for the reason meant)."""


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(path: Any, data: bytes = b"x", **overrides: Any) -> dict[str, Any]:
    return {"path": path, "digest": digest(data), "size": len(data), "mode": 0o644} | overrides


def link(path: str, target: str) -> dict[str, Any]:
    data = target.encode("utf-8", "surrogatepass")
    return entry(path, data, mode=0o777, link=target)


BASE_MANIFEST = [entry("Dockerfile", DOCKERFILE)]


def settings(**overrides: Any) -> dict[str, Any]:
    return build_settings(APP) | overrides


def build(**overrides: Any) -> dict[str, Any]:
    return {
        "app": APP,
        "environment": ENV,
        "manifest": BASE_MANIFEST,
        "settings": settings(),
        "trigger": "save",
    } | overrides


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def with_entries(*extra: dict[str, Any]) -> bytes:
    return body(build(manifest=[*BASE_MANIFEST, *extra]))


EXEC = f"/v1/apps/{APP}/{ENV}/exec"
BLOB = f"/v1/blobs/{digest(b'page data')}"
GOOD_BUILD = body(build())


def cross_site() -> list[Case]:
    """A page the developer visits, sending what needs no CORS preflight, or anything at all."""
    origins = [
        "https://attacker.example",
        "http://attacker.example:{port}",
        "http://localhost.attacker.example:{port}",
        "null",
        "http://127.0.0.1:1",
        "http://127.0.0.1:{port}/page",
        "file://",
        "chrome-extension://abcdefghijklmnop",
        "http://[::ffff:127.0.0.1]:{port}",
    ]
    requests = [
        ("build", "POST", "/v1/builds", GOOD_BUILD, {"Content-Type": "text/plain"}),
        ("exec", "POST", EXEC, body({"command": ["id"]}), {"Content-Type": "text/plain"}),
        ("blob", "PUT", BLOB, b"page data", {"Content-Type": "application/octet-stream"}),
        ("delete", "DELETE", f"/v1/apps/{APP}/{ENV}", None, {}),
        ("read", "GET", "/v1/apps", None, {}),
        ("health", "GET", "/v1/health", None, {}),
    ]
    return [
        Case(
            f"origin-{o_index}-{name}",
            method,
            path,
            data,
            {"Origin": origin, **headers},
            (403,),
            "refuses requests from the web page",
        )
        for o_index, origin in enumerate(origins)
        for name, method, path, data, headers in requests
    ]


def rebinding() -> list[Case]:
    """A page whose own host name resolves to 127.0.0.1: same-origin to itself, not to draftd."""
    hosts = [
        "attacker.example:{port}",
        "attacker.example",
        "127.0.0.1.nip.io:{port}",
        "localhost.:{port}",
        "sub.localhost:{port}",
        "127.0.0.1:1",
        "127.0.0.1",
        "[::2]:{port}",
        "127.0.0.1:{port}:80",
        "0x7f.1:{port}",
        "2130706433:{port}",
        "",
    ]
    requests = [
        ("read", "GET", "/v1/apps", None),
        ("health", "GET", "/v1/health", None),
        ("build", "POST", "/v1/builds", GOOD_BUILD),
        ("logs", "GET", f"/v1/apps/{APP}/{ENV}/logs", None),
    ]
    return [
        Case(
            f"host-{h_index}-{name}",
            method,
            path,
            data,
            {"Host": host},
            (403,),
            "refuses the request for host",
        )
        for h_index, host in enumerate(hosts)
        for name, method, path, data in requests
    ]


def content_types() -> list[Case]:
    """Bodies a page can send across sites without a preflight, and other non-JSON types."""
    types = [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
        "text/json",
        "application/jsonx",
        "application/json-patch+json",
        "application/javascript",
    ]
    requests = [
        ("build", "/v1/builds", GOOD_BUILD),
        ("exec", EXEC, body({"command": ["id"]})),
        ("connect", f"/v1/apps/{APP}/{ENV}/connect", body({"localPort": 8080})),
    ]
    return [
        Case(
            f"type-{t_index}-{name}",
            "POST",
            path,
            data,
            {"Content-Type": kind},
            (415,),
            "takes JSON request bodies",
        )
        for t_index, kind in enumerate(types)
        for name, path, data in requests
    ]


def tokens() -> list[Case]:
    """Clients without the token: other users of the machine, pages, a typo."""
    sent = [
        ("none", None, "needs its token"),
        ("wrong", "Bearer wrong", "is wrong"),
        ("basic", "Basic {token}", "is wrong"),
        ("empty", "Bearer ", "is wrong"),
        ("suffix", "Bearer {token}x", "is wrong"),
        ("prefix", "Bearer x{token}", "is wrong"),
        ("two-words", "Bearer {token} {token}", "is wrong"),
    ]
    requests = [
        ("read", "GET", "/v1/apps", None),
        ("build", "POST", "/v1/builds", GOOD_BUILD),
        ("blob", "PUT", BLOB, b"page data"),
    ]
    return [
        Case(f"token-{name}-{what}", method, path, data, {"Authorization": value}, (401,), says)
        for name, value, says in sent
        for what, method, path, data in requests
    ]


def paths() -> list[Case]:
    """Manifest paths that could leave the build's folder."""
    bad: list[tuple[str, Any, str]] = [
        ("dot-dot", "../pwned", "'../pwned'"),
        ("dot-dot-inside", "a/../../pwned", "'a/../../pwned'"),
        ("to-outside", "../../../../outside/pwned", "segment"),
        ("absolute", PWNED, "absolute path"),
        ("double-slash", "//pwned", "absolute path"),
        ("backslash", "a\\..\\pwned", "backslash"),
        ("nul", "a\x00pwned", "NUL"),
        ("empty", "", "non-empty string"),
        ("dot", ".", "segment"),
        ("dot-slash", "./pwned", "segment"),
        ("dot-inside", "a/./pwned", "segment"),
        ("empty-segment", "a//pwned", "segment"),
        ("trailing-slash", "pwned/", "segment"),
        ("too-long", "p" * 5000, "longer than 4096"),
        ("long-name", "p" * 300 + "/x", "longer than 255"),
        ("number", 7, "non-empty string"),
        ("null", None, "non-empty string"),
        ("list", ["pwned"], "non-empty string"),
        ("lone-surrogate", "pwned-\udc80", "not valid UTF-8"),
    ]
    return [Case(f"path-{name}", "POST", "/v1/builds", with_entries(entry(path)), says=says)
            for name, path, says in bad]  # fmt: skip


def links() -> list[Case]:
    """Links that escape the context, directly or through the manifest's own links."""
    chain = [link("c0", "Dockerfile"), *(link(f"c{n}", f"c{n - 1}") for n in range(1, 46))]
    cases: list[tuple[str, list[dict[str, Any]], str]] = [
        ("to-root", [link("pwned", "/")], "absolute path"),
        ("to-etc", [link("pwned", "/etc/passwd")], "absolute path"),
        ("up", [link("pwned", "..")], "links outside"),
        ("up-two", [link("pwned", "../..")], "links outside"),
        ("up-from-folder", [link("a/pwned", "../../outside")], "links outside"),
        ("through-links", [link("here", "."), link("pwned", "here/here/here/..")], "outside"),
        ("loop", [link("a", "b"), link("b", "a")], "loop"),
        ("chain-45", chain, "chain of more than 40"),
        ("nul", [link("pwned", "a\x00b")], "malformed link"),
        ("backslash", [link("pwned", "..\\..")], "malformed link"),
        ("too-long", [link("pwned", "a/" * 2100)], "malformed link"),
        ("not-string", [entry("pwned", b"x", link=7)], "not a string"),
        ("wrong-digest", [entry("pwned", b"other", mode=0o777, link="Dockerfile")], "digest"),
        ("file-inside-link", [link("lnk", "."), entry("lnk/pwned")], "which is a link"),
    ]
    return [
        Case(f"link-{name}", "POST", "/v1/builds", with_entries(*entries), says=says)
        for name, entries, says in cases
    ]


def modes() -> list[Case]:
    """Devices, FIFOs and other file types, and modes that are not numbers of 12 bits."""
    bad: list[tuple[str, Any]] = [
        ("char-device", stat.S_IFCHR | 0o644),
        ("block-device", stat.S_IFBLK | 0o644),
        ("fifo", stat.S_IFIFO | 0o644),
        ("socket", stat.S_IFSOCK | 0o644),
        ("folder", stat.S_IFDIR | 0o755),
        ("link-bits", stat.S_IFLNK | 0o777),
        ("regular-bits", stat.S_IFREG | 0o644),
        ("2^32", 2**32),
        ("2^64", 2**64 + 0o644),
        ("negative", -1),
        ("string", "644"),
        ("float", 420.0),
        ("bool", True),
        ("null", None),
    ]
    return [Case(f"mode-{name}", "POST", "/v1/builds", with_entries(entry("pwned", mode=mode)),
                 says="has mode") for name, mode in bad]  # fmt: skip


def sizes() -> list[Case]:
    bad: list[tuple[str, Any]] = [
        ("negative", -1),
        ("over-max-blob", 512 * 1024 * 1024 + 1),
        ("2^64", 2**64),
        ("string", "10"),
        ("float", 1.5),
        ("bool", True),
        ("null", None),
        ("list", [1]),
    ]
    return [Case(f"size-{name}", "POST", "/v1/builds", with_entries(entry("pwned", size=size)),
                 says="has size") for name, size in bad]  # fmt: skip


def digests() -> list[Case]:
    bad: list[tuple[str, Any]] = [
        ("short", "sha256:abc"),
        ("md5", "md5:" + "0" * 32),
        ("upper", "sha256:" + "A" * 64),
        ("traversal", "sha256:../../outside/pwned"),
        ("63-digits", "sha256:" + "0" * 63),
        ("nul", "sha256:" + "0" * 63 + "\x00"),
        ("number", 7),
        ("null", None),
    ]
    return [Case(f"digest-{name}", "POST", "/v1/builds",
                 with_entries(entry("pwned", digest=value)), says="not a blob digest")
            for name, value in bad]  # fmt: skip


def structures() -> list[Case]:
    many = [entry(f"f{n}") for n in range(100_001)]
    cases: list[tuple[str, Any, str]] = [
        ("twice", build(manifest=[*BASE_MANIFEST, entry("a"), entry("a")]), "appears twice"),
        ("inside-file", build(manifest=[*BASE_MANIFEST, entry("a"), entry("a/pwned")]), "inside"),
        ("entry-string", build(manifest=[*BASE_MANIFEST, "pwned"]), "must be an object"),
        ("manifest-object", build(manifest={"path": "x"}), "must be a list"),
        ("manifest-missing", {k: v for k, v in build().items() if k != "manifest"}, "list"),
        ("100001-entries", build(manifest=many), "at most 100000"),
        ("no-dockerfile", build(manifest=[entry("app.py")]), "has no 'Dockerfile'"),
        ("dockerfile-up", build(settings=settings(dockerfile="../Dockerfile")), "segment"),
        ("dockerfile-absolute", build(settings=settings(dockerfile=PWNED)), "absolute"),
        ("chart-up", build(chart=[entry("Chart.yaml"), entry("../pwned")]), "'../pwned'"),
        ("chart-link", build(chart=[entry("Chart.yaml"), link("t", "../../..")]), "outside"),
        ("chart-object", build(chart={"Chart.yaml": "x"}), "must be a list"),
        ("chart-absolute", build(chart=[entry(PWNED)]), "absolute"),
    ]
    return [Case(f"manifest-{name}", "POST", "/v1/builds", body(value), says=says)
            for name, value, says in cases]  # fmt: skip


def build_fields() -> list[Case]:
    """Settings, names and the trigger, checked as draft.toml's are; names become paths."""
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("name-not-app", build(settings=settings(name="python")), "is not the app"),
        ("name-upper", build(settings=settings(name="Python")), "DNS-1123"),
        ("registry-url", build(settings=settings(registry="http://r.example")), "not a URL"),
        ("registry-space", build(settings=settings(registry="a b")), "spaces"),
        ("tag-colon", build(settings=settings(custom_tags=["3.12:slim"])), "not a valid image"),
        ("tag-path", build(settings=settings(custom_tags=["../pwned"])), "not a valid image"),
        ("tag-number", build(settings=settings(custom_tags=[7])), "custom_tags"),
        ("set-string", build(settings=settings(set="a=b")), "settings.set"),
        ("args-number", build(settings=settings(image_build_args={"A": 1})), "build arg"),
        ("target", build(settings=settings(target="mars")), "target"),
        ("wait", build(settings=settings(wait="yes")), "settings.wait"),
        ("sync", build(settings=settings(sync="yes")), "settings.sync"),
        ("no-settings", {k: v for k, v in build().items() if k != "settings"}, "settings"),
        ("settings-list", build(settings=[]), "settings"),
        ("app-up", build(app="../pwned"), "DNS-1123"),
        ("app-upper", build(app="PWNED"), "DNS-1123"),
        ("app-long", build(app="a" * 100), "characters long"),
        ("app-number", build(app=7), "app must be a string"),
        ("env-up", build(environment="../pwned"), "not an environment name"),
        ("env-empty", build(environment=""), "not an environment name"),
        ("env-nul", build(environment="dev\x00x"), "not an environment name"),
        ("env-long", build(environment="e" * 1_000_000), "not an environment name"),
        ("trigger", build(trigger="pwned"), "trigger must be"),
        ("not-object", [build()], "must be a JSON object"),
        ("empty", {}, "app must be a string"),
    ]
    return [Case(f"build-{name}", "POST", "/v1/builds", body(value), says=says)
            for name, value, says in cases]  # fmt: skip


def bodies() -> list[Case]:
    """Bodies no JSON parser should choke on: a 400 in one sentence, or 413 past 64 MiB."""
    good = GOOD_BUILD
    cases: list[tuple[str, bytes, str | None, int, str]] = [
        ("deep-array", b"[" * 50_000 + b"]" * 50_000, None, 400, "nests"),
        ("deep-object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, None, 400, "nests"),
        ("bad-utf8", b'{"app": "\xff\xfe"}', None, 400, "not valid UTF-8"),
        ("surrogate", good[:-1] + b', "x": "\xed\xa0\x80"}', None, 400, "not valid UTF-8"),
        ("overlong-utf8", b'{"app": "\xc0\xaf"}', None, 400, "not valid UTF-8"),
        ("5000-digits", b'{"app": ' + b"9" * 5000 + b"}", None, 400, "too many digits"),
        ("nan", b'{"app": NaN}', None, 400, "NaN"),
        ("infinity", b'{"app": -Infinity}', None, 400, "Infinity"),
        ("charset", good, "application/json; charset=no-such-charset", 400, "UTF-8"),
        ("latin-1", good, "application/json; charset=latin-1", 400, "UTF-8"),
        ("truncated", good[: len(good) // 2], None, 400, "not JSON"),
        ("trailing", good + b" x", None, 400, "not JSON"),
        ("bom", b"\xef\xbb\xbf" + good, None, 400, "not JSON"),
        ("65-mib", b'{"a": "' + b"x" * (65 * 1024 * 1024) + b'"}', None, 413, "larger than"),
    ]
    return [
        Case(f"body-{name}", "POST", "/v1/builds", data,
             {"Content-Type": kind} if kind else {}, (status,), says)
        for name, data, kind, status, says in cases
    ]  # fmt: skip


def blobs() -> list[Case]:
    data = b"the real content"
    cases: list[tuple[str, str, bytes, dict[str, str | None], tuple[int, ...], str]] = [
        ("short", "/v1/blobs/sha256:abc", data, {}, (400,), "not a blob digest"),
        ("md5", "/v1/blobs/md5:" + "0" * 32, data, {}, (400,), "not a blob digest"),
        ("upper", "/v1/blobs/sha256:" + "G" * 64, data, {}, (400,), "not a blob digest"),
        ("traversal", "/v1/blobs/..%2F..%2Foutside%2Fpwned", data, {}, (400, 404), ""),
        ("dot-dot", "/v1/blobs/../../outside/pwned", data, {}, (404,), "no endpoint"),
        ("wrong-bytes", f"/v1/blobs/{digest(data)}", b"pwned", {}, (400,), "hash to"),
        ("declared-too-big", f"/v1/blobs/{digest(data)}", data,
         {"Content-Length": str(600 * 1024 * 1024)}, (413,), "at most"),
        ("empty-name", "/v1/blobs/", data, {}, (404, 405), ""),
    ]  # fmt: skip
    return [Case(f"blob-{name}", "PUT", path, payload, headers, status, says)
            for name, path, payload, headers, status, says in cases]  # fmt: skip


def urls() -> list[Case]:
    """Ids, names and queries in the URL: they name files and bound work."""
    cases: list[tuple[str, str, str, tuple[int, ...], str]] = [
        ("log-traversal", "GET", "/v1/builds/..%2F..%2Ftoken/log", (404,), "no build"),
        ("log-unknown", "GET", "/v1/builds/b-aaaaaaaaaaaa/log", (404,), "no build"),
        ("status-unknown", "GET", "/v1/builds/b-x/events", (404,), "no build"),
        ("app-traversal", "GET", "/v1/apps/..%2F..%2Fetc/development", (400, 404), ""),
        ("app-upper", "GET", f"/v1/apps/PWNED/{ENV}", (400,), "DNS-1123"),
        ("env-dot", "GET", f"/v1/apps/{APP}/.hidden", (400,), "not an environment name"),
        ("tail-negative", "GET", f"/v1/apps/{APP}/{ENV}/logs?tail=-1", (400,), "?tail"),
        ("tail-text", "GET", f"/v1/apps/{APP}/{ENV}/logs?tail=all", (400,), "?tail"),
        ("tail-huge", "GET", f"/v1/apps/{APP}/{ENV}/logs?tail=" + "9" * 30, (400,), "?tail"),
        ("prune-negative", "DELETE", f"/v1/apps/{APP}/{ENV}?pruneImages=-5", (400,), "pruneImages"),
        ("prune-text", "DELETE", f"/v1/apps/{APP}/{ENV}?pruneImages=all", (400,), "pruneImages"),
        ("no-endpoint", "GET", "/v1/pwned", (404,), "no endpoint"),
        ("wrong-method", "POST", "/v1/health", (405,), "does not take POST"),
        ("history-traversal", "GET", f"/v1/apps/{APP}/..%2F..%2Fpwned/history", (400, 404), ""),
    ]  # fmt: skip
    return [Case(f"url-{name}", method, path, status=status, says=says)
            for name, method, path, status, says in cases]  # fmt: skip


def tasks() -> list[Case]:
    connect = f"/v1/apps/{APP}/{ENV}/connect"
    cases: list[tuple[str, str, Any, str]] = [
        ("command-string", EXEC, {"command": "id"}, "non-empty list"),
        ("command-empty", EXEC, {"command": []}, "non-empty list"),
        ("command-number", EXEC, {"command": [1]}, "non-empty list"),
        ("command-missing", EXEC, {}, "non-empty list"),
        ("timeout-zero", EXEC, {"command": ["id"], "timeoutSeconds": 0}, "timeoutSeconds"),
        ("timeout-long", EXEC, {"command": ["id"], "timeoutSeconds": 3601}, "timeoutSeconds"),
        ("timeout-text", EXEC, {"command": ["id"], "timeoutSeconds": "5"}, "timeoutSeconds"),
        ("exec-list", EXEC, [["id"]], "JSON object"),
        ("port-zero", connect, {"localPort": 0}, "localPort"),
        ("port-high", connect, {"localPort": 70000}, "localPort"),
        ("port-text", connect, {"localPort": "80"}, "localPort"),
        ("port-bool", connect, {"localPort": True}, "localPort"),
    ]
    return [Case(f"task-{name}", "POST", path, body(value), says=says)
            for name, path, value, says in cases]  # fmt: skip


CASES: list[Case] = [
    *cross_site(),
    *rebinding(),
    *content_types(),
    *tokens(),
    *paths(),
    *links(),
    *modes(),
    *sizes(),
    *digests(),
    *structures(),
    *build_fields(),
    *bodies(),
    *blobs(),
    *urls(),
    *tasks(),
]
