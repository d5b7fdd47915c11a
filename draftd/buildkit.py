"""BuildKit's progress, as the engine streams it for a `version=2` build, made into lines.

The engine wraps BuildKit's `StatusResponse` messages (moby/buildkit api/services/control)
in `{"id": "moby.buildkit.trace", "aux": <base64 protobuf>}`. `PlainProgress` reads them
and writes what `docker build --progress=plain` prints: `#3 [build 4/6] RUN go build .`,
the step's output as `#3 <line>`, `#3 CACHED`, `#3 DONE 1.2s`, `#3 ERROR: <why>`, and keeps
the failed step's name and last lines for `draftd.build_failures`.

Only the few fields read here are decoded, straight from protobuf's wire format (varints
and length-delimited fields): a protobuf runtime and BuildKit's generated code would be two
dependencies for six fields.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

TRACE_ID = "moby.buildkit.trace"
RECENT_LINES = 40
"""Output lines kept per step, to explain a failure (`draftd.build_failures`)."""

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class TraceError(ValueError):
    """A trace message that is not BuildKit's status."""


def wire_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs of one protobuf message: ints for varints, bytes else."""
    at = 0

    def varint() -> int:
        nonlocal at
        value = shift = 0
        while True:
            if at >= len(data) or shift > 63:
                raise TraceError("truncated varint")
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while at < len(data):
        key = varint()
        number, kind = key >> 3, key & 7
        if kind == _VARINT:
            yield number, varint()
        elif kind == _BYTES:
            size = varint()
            if at + size > len(data):
                raise TraceError("truncated field")
            yield number, data[at : at + size]
            at += size
        elif kind in (_FIXED64, _FIXED32):
            at += 8 if kind == _FIXED64 else 4
        else:
            raise TraceError(f"unknown wire type {kind}")


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


@dataclass
class Vertex:
    """One step of the build (BuildKit's `Vertex`)."""

    digest: str
    name: str = ""
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""


@dataclass
class Status:
    """One `StatusResponse`: steps that changed, and output lines (vertex digest, text)."""

    vertexes: list[Vertex] = field(default_factory=list)
    logs: list[tuple[str, bytes]] = field(default_factory=list)


def _timestamp(value: int | bytes) -> float | None:
    """A `google.protobuf.Timestamp` in seconds."""
    if not isinstance(value, bytes):
        return None
    seconds = nanos = 0
    for number, part in wire_fields(value):
        if number == 1 and isinstance(part, int):
            seconds = part
        elif number == 2 and isinstance(part, int):
            nanos = part
    return seconds + nanos / 1e9


def decode(aux: str) -> Status:
    """The `StatusResponse` in a trace message's `aux`; `TraceError` if it is not one."""
    try:
        data = base64.b64decode(aux, validate=True)
    except (binascii.Error, ValueError) as error:
        raise TraceError(f"not base64: {error}") from error
    status = Status()
    for number, value in wire_fields(data):
        if not isinstance(value, bytes):
            continue
        if number == 1:  # Vertex
            vertex = Vertex("")
            for part, item in wire_fields(value):
                if part == 1:
                    vertex.digest = _text(item)
                elif part == 3:
                    vertex.name = _text(item)
                elif part == 4:
                    vertex.cached = bool(item)
                elif part == 5:
                    vertex.started = _timestamp(item)
                elif part == 6:
                    vertex.completed = _timestamp(item)
                elif part == 7:
                    vertex.error = _text(item)
            status.vertexes.append(vertex)
        elif number == 3:  # VertexLog
            digest, message = "", b""
            for part, item in wire_fields(value):
                if part == 1:
                    digest = _text(item)
                elif part == 4 and isinstance(item, bytes):
                    message = item
            status.logs.append((digest, message))
    return status


class PlainProgress:
    """Successive statuses of one build as plain lines, numbered by step as BuildKit does."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._shown: set[tuple[str, str]] = set()
        self._partial: dict[str, bytes] = {}
        self._recent: dict[str, deque[str]] = {}
        self.failed_step = ""
        """The name of the step that failed (`[build 5/6] RUN go build .`), or ""."""
        self.steps: list[str] = []
        """The names of the Dockerfile's steps, in the order they started."""

    def recent(self, name: str) -> list[str]:
        """The last output lines of the step called `name`."""
        for digest, known in self._names.items():
            if known == name:
                return list(self._recent.get(digest, ()))
        return []

    def lines(self, status: Status) -> list[str]:
        out: list[str] = []
        for vertex in status.vertexes:
            number = self._numbers.setdefault(vertex.digest, len(self._numbers) + 1)
            if vertex.name:
                self._names[vertex.digest] = vertex.name
            name = self._names.get(vertex.digest, vertex.name)
            if vertex.started is not None and self._once(vertex.digest, "started"):
                out.append(f"#{number} {name}")
                if name.startswith("[") and not name.startswith("[internal]"):
                    self.steps.append(name)
            if vertex.cached and self._once(vertex.digest, "cached"):
                out.append(f"#{number} CACHED")
            if vertex.error and self._once(vertex.digest, "error"):
                out.append(f"#{number} ERROR: {vertex.error}")
                if not self.failed_step:
                    self.failed_step = name
            elif (
                vertex.completed is not None
                and self._once(vertex.digest, "completed")
                and not vertex.cached
                and vertex.started is not None
            ):
                out.append(f"#{number} DONE {vertex.completed - vertex.started:.1f}s")
        for digest, message in status.logs:
            number = self._numbers.setdefault(digest, len(self._numbers) + 1)
            *complete, rest = (self._partial.pop(digest, b"") + message).split(b"\n")
            if rest:
                self._partial[digest] = rest
            for raw in complete:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                self._recent.setdefault(digest, deque(maxlen=RECENT_LINES)).append(line)
                out.append(f"#{number} {line}")
        return out

    def _once(self, digest: str, event: str) -> bool:
        if (digest, event) in self._shown:
            return False
        self._shown.add((digest, event))
        return True
