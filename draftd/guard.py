"""What a web page could send draftd, refused before any handler or the token check runs.

draftd listens on loopback, where every page the developer visits can reach it too:
a cross-site `fetch` or `<form>` with a "simple" content type (text/plain, a form)
needs no CORS preflight, and a DNS-rebinding page talks to 127.0.0.1 under a host
name of its own. So every request must pass three checks (docs/draftd-api.md):

- **Host**: a request that arrives on a loopback address names a loopback host
  (`localhost`, `127.x.x.x`, `[::1]`) with draftd's own port — never another name.
- **Origin**: a browser's request comes from draftd's own loopback origin or not at
  all; tools (the `draft` CLI, the language server, curl) send no `Origin`.
- **Content-Type**: a POST's body is `application/json`, which a page cannot send
  across sites without a preflight draftd never grants.

The token (`draftd.api`) is required on top of these, on loopback too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from yarl import URL

from draft.errors import DraftError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HINT = (
    "draftd answers only the draft command, the language server and tools on this machine, "
    "never a web page; see docs/draftd-api.md."
)


class ForeignRequest(DraftError):
    """A request a web page could have sent: a foreign Host or Origin (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, _HINT)


class NotJSON(DraftError):
    """A POST whose body is not declared `application/json` (415)."""


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`; "0.0.0.0" and "::" are every interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@web.middleware
async def refuse_web_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    port = _local_port(request)
    _check_host(request, port)
    _check_origin(request, port)
    _check_content_type(request)
    return await handler(request)


def _check_content_type(request: web.Request) -> None:
    """A POST's body, when it has one, must be declared application/json."""
    if (
        request.method == "POST"
        and request.body_exists
        and (request.content_type != "application/json")
    ):
        declared = request.headers.get("Content-Type")
        raise NotJSON(
            "draftd takes JSON request bodies, sent as application/json, not "
            f"{_short(declared) if declared else 'a body without a Content-Type'}.",
            "Send Content-Type: application/json (an empty body stands for {}).",
        )


def _local_port(request: web.Request) -> int | None:
    """The port the request arrived on, when it arrived on a loopback address, else None."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return None
    host, port = sockname[0], sockname[1]
    return int(port) if isinstance(host, str) and is_loopback(host) else None


def _check_host(request: web.Request, port: int | None) -> None:
    """On loopback, Host must be a loopback name or address with this port (no rebinding)."""
    if port is None:
        return  # reached over the network: the token guards it, under whatever name
    hosts = request.headers.getall("Host", [])
    if len(hosts) != 1 or _host_port(hosts[0]) != ("loopback", port):
        shown = _short(hosts[0]) if len(hosts) == 1 else f"{len(hosts)} Host headers"
        raise ForeignRequest(
            f"draftd refuses the request for host {shown}: on loopback it answers only "
            f"localhost, 127.0.0.1 or [::1] at port {port}."
        )


def _check_origin(request: web.Request, port: int | None) -> None:
    """A browser's Origin must be draftd's own loopback origin; tools send none."""
    origins = request.headers.getall("Origin", [])
    if not origins:
        return
    origin = origins[0]
    try:
        url = URL(origin)
        own = (
            len(origins) == 1
            and url.scheme in ("http", "https")
            and url.path in ("", "/")
            and url.host is not None
            and is_loopback(url.host)
            and (port is None or url.port == port)
        )
    except ValueError:
        own = False
    if not own:
        raise ForeignRequest(
            f"draftd refuses requests from the web page at {_short(origin)}: "
            "only its own loopback origin may send a browser's request."
        )


def _host_port(value: str) -> tuple[str, int] | None:
    """("loopback", port) for a loopback `Host` value; None for anything else."""
    host, port = value, "80"
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else "80"
    elif value.count(":") == 1:
        host, port = value.split(":")
    elif ":" in value:
        return None
    if not (port.isascii() and port.isdigit() and len(port) <= 5) or not is_loopback(host):
        return None
    return "loopback", int(port)


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:80] + "…")
