"""The content-addressed blob store: a build context's files, each stored once by digest.

Uploading by digest is what makes a one-line change send one file: the client
asks which digests are missing and sends only those. Blobs live under
`<root>/sha256/<aa>/<hex>`; an upload streams into a temporary file inside the
store, is hashed as it arrives, and only a file whose bytes match its digest is
renamed into place, so a reader never sees a partial or wrong blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import IO

from draft.errors import DraftError, quoted

DEFAULT_MAX_BLOB = 512 * 1024 * 1024
EMPTY_DIGEST = "sha256:" + hashlib.sha256(b"").hexdigest()
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_WRITE_BATCH = 1024 * 1024


class BlobRefused(DraftError):
    """An upload was refused: a malformed digest, or bytes that do not match it."""


class BlobTooLarge(BlobRefused):
    """An upload is larger than this draftd accepts (`--max-blob`)."""


def check_digest(digest: object) -> str:
    """`digest` itself when it is `sha256:<64 lowercase hex>`; anything else could name a path."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise BlobRefused(
            f"{quoted(digest)} is not a blob digest.",
            "Digests are written sha256:<64 lowercase hex digits>.",
        )
    return digest


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobStore:
    """Blobs by digest under one folder; nothing is written anywhere else."""

    def __init__(self, root: Path, max_size: int = DEFAULT_MAX_BLOB) -> None:
        self.root = root
        self.max_size = max_size
        self._blobs = str(root / "sha256")
        self._temp = root / "tmp"
        self._temp.mkdir(parents=True, exist_ok=True, mode=0o700)
        (root / "sha256").mkdir(exist_ok=True, mode=0o700)
        self._watchers: set[Callable[[str], None]] = set()
        if not self.has(EMPTY_DIGEST):
            self._store_bytes(EMPTY_DIGEST, b"")

    def path(self, digest: str) -> Path:
        return Path(self._file(check_digest(digest)))

    def _file(self, digest: str) -> str:
        """Where a checked digest's blob is (plain strings: manifests have 100,000 of them)."""
        return f"{self._blobs}/{digest[7:9]}/{digest[7:]}"

    def has(self, digest: str) -> bool:
        return os.path.isfile(self._file(check_digest(digest)))  # noqa: PTH113 - see _file

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def missing(self, digests: Iterable[str], *, touch: bool = False) -> list[str]:
        """The digests not stored yet, each once, in the order given; with `touch`, the stored
        ones are marked as used now, so garbage collection keeps what recent builds need."""
        now = time.time()
        seen: set[str] = set()
        lacking: list[str] = []
        for digest in digests:
            if digest in seen:
                continue
            seen.add(digest)
            path = self._file(check_digest(digest))
            try:
                if touch:
                    os.utime(path, (now, now))
                elif not os.path.isfile(path):  # noqa: PTH113 - see _file
                    lacking.append(digest)
            except FileNotFoundError:
                lacking.append(digest)
        return lacking

    def watch(self, arrived: Callable[[str], None]) -> Callable[[], None]:
        """Call `arrived(digest)` after each blob is stored; returns the way to stop.

        Builds waiting for their uploads watch the store: one call per blob,
        however many files a build still waits for.
        """
        self._watchers.add(arrived)
        return lambda: self._watchers.discard(arrived)

    async def put(
        self, digest: str, chunks: AsyncIterable[bytes], *, declared_size: int | None = None
    ) -> int:
        """Store the streamed bytes as `digest` and return their size.

        Refuses early from the declared size and again while streaming, so an
        oversize upload never fills the disk; refuses bytes that hash to
        anything else. Writing and hashing run in a thread, a batch at a time.
        """
        check_digest(digest)
        if declared_size is not None and declared_size > self.max_size:
            raise self._too_large(declared_size)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed into place, not closed here
            dir=self._temp, prefix="upload-", delete=False
        )
        try:
            size, actual = await self._receive(handle, chunks)
            handle.close()
            if actual != digest:
                raise BlobRefused(
                    f"The uploaded bytes hash to {actual}, not {digest}.",
                    "Upload the file's exact content; it may have changed while uploading.",
                )
            await asyncio.to_thread(self._install, Path(handle.name), digest)
        finally:
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
        for arrived in list(self._watchers):
            arrived(digest)
        return size

    async def _receive(self, handle: IO[bytes], chunks: AsyncIterable[bytes]) -> tuple[int, str]:
        hasher = hashlib.sha256()
        size = 0
        batch: list[bytes] = []
        batched = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > self.max_size:
                raise self._too_large(None)
            batch.append(chunk)
            batched += len(chunk)
            if batched >= _WRITE_BATCH:
                await asyncio.to_thread(_write, handle, hasher, batch)
                batch, batched = [], 0
        await asyncio.to_thread(_write, handle, hasher, batch)
        return size, "sha256:" + hasher.hexdigest()

    def _too_large(self, size: int | None) -> BlobTooLarge:
        """`size` when the upload declared it; None when the stream ran past the limit."""
        what = f"is {size} bytes" if size is not None else "is larger than that"
        return BlobTooLarge(
            f"This draftd accepts at most {self.max_size} bytes per file; the upload {what}.",
            "Add large files that the image does not need to .dockerignore, "
            "or start draftd with a larger --max-blob.",
        )

    def _install(self, temp: Path, digest: str) -> None:
        target = self.path(digest)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        temp.chmod(0o600)
        temp.replace(target)

    def _store_bytes(self, digest: str, data: bytes) -> None:
        with tempfile.NamedTemporaryFile(dir=self._temp, delete=False) as handle:
            handle.write(data)
        self._install(Path(handle.name), digest)

    def open(self, digest: str) -> IO[bytes]:
        return self.path(digest).open("rb")

    def collect_garbage(self, older_than_seconds: float, keep: Iterable[str] = ()) -> int:
        """Delete blobs unused for that long; returns how many."""
        cutoff = time.time() - older_than_seconds
        kept = {check_digest(d).removeprefix("sha256:") for d in keep}
        kept.add(EMPTY_DIGEST.removeprefix("sha256:"))
        return _remove_older(self.root.glob("sha256/*/*"), cutoff, kept)

    def collect_uploads(self, older_than_seconds: float) -> int:
        """Delete partial uploads not written to for that long (a client that went away, or
        a draftd killed mid-upload); returns how many. An upload under way writes as it goes."""
        return _remove_older(self._temp.iterdir(), time.time() - older_than_seconds, set())


def _remove_older(paths: Iterable[Path], cutoff: float, kept: set[str]) -> int:
    removed = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if path.name not in kept and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def _write(handle: IO[bytes], hasher: hashlib._Hash, batch: list[bytes]) -> None:
    for chunk in batch:
        hasher.update(chunk)
        handle.write(chunk)
