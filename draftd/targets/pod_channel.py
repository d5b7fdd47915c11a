"""A sync channel: a shell kept open in a synced pod through the Kubernetes API's exec.

An exec costs a websocket to the API server, which opens a stream to the kubelet, which starts
a process in the container: ≈ 60-100 ms before the first byte, for a save of a few hundred
bytes. So the first save synced into a pod opens one exec running `LOOP`: it reads a line
with a size, then that many bytes of tar, unpacks them, signals the restart wrapper, and
prints a line with the exit status; each later save only writes to it.

`head -c` must read no further than the size it is given, or the next save's bytes would be
lost: GNU head does, BusyBox's reads ahead. So the channel is opened only where `head` is
GNU's; elsewhere, and whenever a channel has closed (the pod was replaced, or a restart of
an app that is not Python ended every process of its user, this shell too), the caller runs
one exec per save, as before.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from draftd.targets.base import DeployError
from draftd.targets.kube_api import CoreApi

READY = "@draft-channel"
DONE = re.compile(r"^@draft-synced (\d+)\n", re.MULTILINE)
LOOP = (
    f"head --version 2>/dev/null | grep -q coreutils || exit 3; echo {READY}; "
    "while read -r size; do "
    'head -c "$size" | tar -x --overwrite -f - -C / 2>&1 && kill -HUP 1; '
    'echo "@draft-synced $?"; '
    "done"
)
OPEN_TIMEOUT = 10.0
CHUNK = 1024 * 1024


def write_stdin(session: Any, data: bytes) -> None:
    """`data` to an exec session's stdin, a websocket message per CHUNK."""
    for start in range(0, len(data), CHUNK):
        session.write_stdin(data[start : start + CHUNK])


class Closed(Exception):
    """The channel closed, or never opened: run one exec instead."""


class PodChannel:
    """One pod's sync channel (blocking: call from a worker thread, one save at a time)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    @classmethod
    def open(cls, api: k8s.ApiClient, namespace: str, pod: str) -> PodChannel:
        """Start `LOOP` in the pod; `Closed` where it cannot run (no GNU head, an exec refused)."""
        from kubernetes.stream import stream

        core = CoreApi(api)
        try:
            session = stream(
                core.connect_get_namespaced_pod_exec, pod, namespace,
                command=["/bin/sh", "-c", LOOP],
                stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False,
            )  # fmt: skip
        except (ApiException, OSError) as error:
            raise Closed(str(error)) from error
        channel = cls(session)
        try:
            channel._read_until(lambda text: READY in text, OPEN_TIMEOUT)
        except Closed:
            channel.close()
            raise
        return channel

    def send(self, archive: bytes, timeout: float) -> tuple[int, str]:
        """Unpack `archive` in the pod and signal the wrapper: tar's exit status (or the
        exec's, when the restart ended this shell too) and its output.

        `Closed` when the channel had closed before it could take the archive (a shell given
        a part would only fail to unpack it: the caller's exec then sends it all).
        """
        session = self._session
        if not session.is_open():
            raise Closed("the channel has closed")
        try:
            session.write_stdin(f"{len(archive)}\n".encode())
            write_stdin(session, archive)
        except Exception as error:  # the websocket library's errors have no common base
            self.close()  # a shell that reads a part would unpack nothing: the exec sends all
            raise Closed(str(error)) from error
        try:
            text = self._read_until(DONE.search, timeout)
        except Closed:
            code = session.returncode  # ended by the restart (137), or the pod went away
            if code is None:
                raise
            return int(code), ""
        found = DONE.search(text)
        assert found is not None
        return int(found.group(1)), text[: found.start()]

    def _read_until(self, seen: Any, timeout: float) -> str:
        session = self._session
        text = ""
        deadline = time.monotonic() + timeout
        while not seen(text):
            if not session.is_open():
                raise Closed("the channel has closed")
            if time.monotonic() > deadline:
                self.close()
                raise DeployError(f"The pod did not answer within {timeout:.0f} s.")
            try:
                session.update(timeout=0.5)
            except Exception as error:  # the websocket library's errors have no common base
                raise Closed(str(error)) from error
            text += session.read_stdout() or ""
        return text

    def is_open(self) -> bool:
        return bool(self._session.is_open())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._session.close()
