"""The docker target's app port: 127.0.0.1:<port>, draftd's own, forwarding to the app's container.

The URL a developer has open must survive every redeploy, and the switch must cost no
request: draftd listens on the app's host port itself (a small asyncio TCP proxy) and
forwards each connection to the container that serves now, at its bridge address. A
redeploy starts the new container beside the old one, waits until it answers, then
`switch`es: new connections go to the new container at once, connections open on the
old one carry on until they end (or `drain`'s time is up, when the old container is
removed and they are closed). No port is published by the engine, so there is no
docker-proxy in the way and no moment when nobody listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Awaitable, Callable

from draft.errors import DraftError

log = logging.getLogger(__name__)

Backend = tuple[str, int]
"""Where connections go: the container's bridge address and the app's port in it."""
CONNECT_TIMEOUT = 5.0
CHUNK = 65536


class PortTaken(DraftError):
    """Another program holds the app's port."""


class AppPort:
    """One app's port on 127.0.0.1, forwarding each connection to its current backend."""

    def __init__(
        self,
        backend: Backend | None,
        relocate: Callable[[], Awaitable[Backend | None]] | None = None,
    ) -> None:
        self.backend = backend
        """Where new connections go; None until the app's first container answers."""
        self.relocate = relocate
        """Where the app answers now, asked when its backend refuses a connection (an engine
        restart gives containers new addresses)."""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: dict[Backend | None, set[asyncio.Task[None]]] = {}
        """The connections under way, by the backend each went to."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def listen(self, port: int, app: str) -> None:
        """Listen on 127.0.0.1:`port` (0: a free port the system picks), or `PortTaken`."""
        try:
            self._server = await asyncio.start_server(
                self._forward, "127.0.0.1", port, reuse_address=True
            )
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise PortTaken(
                f"Port {port} on 127.0.0.1, {app}'s URL, is taken by another program.",
                "Stop that program (`ss -ltnp` names it), or `draft delete` then `draft up` "
                "to give the app another port.",
            ) from None
        self.port = int(self._server.sockets[0].getsockname()[1])

    def switch(self, backend: Backend | None) -> None:
        """Send new connections to `backend`; those open elsewhere carry on."""
        self.backend = backend

    async def drain(self, backend: Backend, timeout: float) -> None:
        """Wait until the connections to `backend` have ended, closing those left after
        `timeout` seconds (its container is about to go)."""
        pending = self._open.get(backend, set())
        if pending:
            _, late = await asyncio.wait(set(pending), timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1)
        self._open.pop(backend, None)

    async def close(self) -> None:
        """Stop listening and end every connection (draftd stops, or the app is deleted)."""
        if self._server is not None:
            self._server.close()
        tasks = [task for tasks in self._open.values() for task in tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1)
        self._open.clear()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = self.backend
        task = asyncio.current_task()
        assert task is not None
        self._open.setdefault(backend, set()).add(task)
        try:
            await self._pipe(backend, reader, writer)
        except asyncio.CancelledError:
            pass  # drained or closed: the connection ends here
        finally:
            self._open.get(backend, set()).discard(task)
            _abort(writer)

    async def _pipe(
        self, backend: Backend | None, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        upstream = await self._connect(backend)
        if upstream is None:
            return
        upstream_reader, upstream_writer = upstream
        _no_delay(upstream_writer)
        _no_delay(writer)
        to_app = asyncio.create_task(_copy(reader, upstream_writer))
        try:
            # The connection lasts as long as the app's side: when the app has answered and
            # closed, or its process went away (a synced save restarts it), the client's
            # connection is closed at once, never left waiting for an answer that cannot come.
            await _copy(upstream_reader, writer)
        finally:
            to_app.cancel()
            _abort(upstream_writer)

    async def _connect(
        self, backend: Backend | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to `backend`, else to where `relocate` finds the app; None when
        neither answers (the client's connection is then closed, as a stopped app's is)."""
        tried: set[Backend] = set()
        for _ in range(2):
            if backend is not None and backend not in tried:
                tried.add(backend)
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT):
                        return await asyncio.open_connection(*backend)
                except (OSError, TimeoutError) as error:
                    log.info("cannot reach the app at %s:%d: %s", *backend, error)
            if self.relocate is None:
                return None
            found = await self.relocate()
            if found is not None and found != backend and self.backend == backend:
                self.backend = found
            backend = found
        return None


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Bytes from `source` to `sink` until `source` ends, then half-close `sink` (a client
    may end its side and still wait for the answer); a broken connection ends it too."""
    with contextlib.suppress(OSError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
            await sink.drain()


def _no_delay(writer: asyncio.StreamWriter) -> None:
    connection = writer.get_extra_info("socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
