"""What a failed image build means for the user: a fault of theirs, or an unreachable network.

A build fails at a `FROM` whose image the engine does not have and whose registry cannot be
reached, or at a `RUN` whose package manager (pip, npm, Maven, Bundler, apt, ...) cannot reach
its registry. Neither is fixed by editing the Dockerfile or the app, so the message says which
registry and what to do. Pure functions over the failed step, the engine's error and the last
lines of the build's output; the registry's host is read from those, never assumed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
"""Terminal colour and cursor escapes, which the legacy builder passes through from tools."""
FIX_THE_APP = "Fix the Dockerfile or the app and save again."

_FROM = re.compile(
    # The classic builder's `Step 1/9 : FROM x`; BuildKit's `[build 1/6] FROM x` and the
    # `[internal] load metadata for x` that resolves it first.
    r"^(?:(?:Step \d+/\d+ :|\[[^\]]*\d+/\d+\])\s*FROM\s+(?:--platform=\S+\s+)?"
    r"|\[internal\] load metadata for\s+)(?P<image>\S+)",
    re.IGNORECASE,
)
_PULL_FAILED = re.compile(
    r"no such host|dial tcp|i/o timeout|connection refused|network is unreachable|"
    r"tls handshake timeout|pull access denied|manifest unknown|repository does not exist|"
    r"not found: manifest|Get \"https?://",
    re.IGNORECASE,
)
_UNREACHABLE = re.compile(
    r"could not reach host|could not resolve host|temporary failure in name resolution|"
    r"temporary failure resolving|name or service not known|no such host|getaddrinfo|"
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|network is unreachable|"
    r"connection refused|connection timed out|failed to establish a new connection|"
    r"max retries exceeded|could not transfer artifact|failed to connect to|"
    r"unable to connect to|failed to fetch https?://|failed to download|"
    r"No plugin found for prefix",
    re.IGNORECASE,
)
_HOST = (
    re.compile(r"https?://(?P<host>[A-Za-z0-9.-]+\.[A-Za-z]{2,})(?::\d+)?"),
    re.compile(
        r"(?:host|ENOTFOUND|EAI_AGAIN|resolving|resolve host:?)\s+'?"
        r"(?P<host>[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
    ),
)  # fmt: skip


def strip_escapes(text: str) -> str:
    """`text` without terminal escapes (and the stray escape characters they leave)."""
    return ANSI.sub("", text).replace("\x1b", "")


def host_in(lines: Sequence[str]) -> str | None:
    """The first registry host named in `lines`, searching from the last line back."""
    for line in reversed(lines):
        for pattern in _HOST:
            found = pattern.search(line)
            if found:
                return found["host"].rstrip(".")
    return None


def explain(step: str, error: str, recent: Sequence[str]) -> tuple[str, str]:
    """(message, what to do) for a build that failed at `step` (the classic builder's
    `Step n/m : ...` line, BuildKit's step name, or "") with the engine's `error`, after the
    output lines `recent`."""
    where = f"{step} failed: " if step else "the build failed: "
    base = _FROM.match(step)
    if base is not None and _PULL_FAILED.search(error):
        image = base["image"]
        host = host_in([error])
        registry = f"its registry ({host})" if host else "its registry"
        return (
            f"{where}the base image {image} is not on this Docker engine and {registry} "
            f"cannot be reached: {error}",
            f"Make {host or 'the registry'} reachable (network, proxy, credentials), or load "
            f"{image} into this engine another way (`docker load`, a local build tagged "
            f"{image}), or change FROM to an image the engine has; then save again.",
        )
    unreachable = [line for line in [*recent, error] if _UNREACHABLE.search(line)]
    if base is None and unreachable:
        host = host_in(unreachable) or host_in([*recent, error])
        what = f"a package registry ({host})" if host else "a package registry"
        return (
            f"{where}{what} could not be reached from the build: {unreachable[-1].strip()}",
            f"This is the network, not the app: make {host or 'the registry'} reachable from "
            "Docker builds (DNS, proxy, firewall), or point the package manager at a mirror "
            "this machine can reach, or vendor the dependencies into the app; then save again.",
        )
    return f"{where}{error}", FIX_THE_APP
