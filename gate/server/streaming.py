"""Streaming a file body with its digest checked on the way, in constant memory.

Every chunk is hashed (sha256, and for non-LFS files also the git blob id) in a worker thread
while the previous chunk is being sent, and the final chunk is held back until the whole digest
matches what the source listed. On a mismatch or a source failure the generator raises: the
server cuts the connection, the client holds an incomplete body it will not cache, and the
decision's record says why (`Gatekeeper.record_outcome`).

Range requests: a range that runs to the end of the file (how the client resumes a download) is
checked too, by hashing the bytes before it from the source without sending them (so a resume
costs a read of the part already sent before the first byte). A range that stops short of the
end cannot be checked against a whole-file digest and is served as it is; such ranges never make
a complete file on the client (the client resumes only to the end).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio.to_thread

from gate.errors import UpstreamError
from gate.hub.source import FileEntry

_INLINE_HASH = 64 * 1024
"""Chunks smaller than this are hashed on the event loop; a thread hop would cost more."""


class DigestMismatch(UpstreamError):
    """The bytes a source sent do not have the digest it listed for them."""


class BodyDigest:
    """The running digests of a file body, compared with the entry at the end."""

    def __init__(self, entry: FileEntry) -> None:
        self.entry = entry
        self.length = 0
        self._sha = hashlib.sha256()
        # For non-LFS files the git blob id is a content digest the hub vouches for.
        self._git = (
            None
            if entry.lfs
            else hashlib.sha1(f"blob {entry.size}\0".encode(), usedforsecurity=False)
        )

    def update(self, data: bytes) -> None:
        self._sha.update(data)
        if self._git is not None:
            self._git.update(data)
        self.length += len(data)

    def problem(self) -> str | None:
        """None when the body is the listed file; otherwise what is wrong with it."""
        if self.length != self.entry.size:
            return f"length {self.length} != listed size {self.entry.size}"
        sha = self._sha.hexdigest()
        if self.entry.sha256 is not None and sha != self.entry.sha256:
            return f"sha256 {sha} != listed {self.entry.sha256}"
        if self._git is not None and self._git.hexdigest() != self.entry.git_oid:
            return f"git blob id {self._git.hexdigest()} != listed {self.entry.git_oid}"
        return None


async def _update(digest: BodyDigest, data: bytes) -> None:
    if len(data) < _INLINE_HASH:
        digest.update(data)
    else:
        await anyio.to_thread.run_sync(digest.update, data)


Failure = Callable[[str], Awaitable[None]]
"""Called once with a one-line reason before the stream is cut."""


async def verified_body(
    chunks: AsyncIterator[bytes],
    entry: FileEntry,
    *,
    on_failure: Failure,
    prefix: AsyncIterator[bytes] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    on_verified: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """Yield `chunks` (which end at the end of the file), the last only once the digest matches.

    `prefix` yields the bytes before the first chunk (a resumed download); they are hashed, not
    sent. `on_verified` is called once the whole file matched its digest (before the last chunk
    is sent), so a local store can remember the blob as verified.
    """
    digest = BodyDigest(entry)
    held: bytes | None = None
    pending: asyncio.Future[None] | None = None
    try:
        if prefix is not None:
            async for data in prefix:
                await _update(digest, data)
        async for data in chunks:
            if pending is not None:
                await pending
            # Hash this chunk in a thread while the previous one goes out.
            pending = asyncio.ensure_future(_update(digest, data))
            if held is not None:
                yield held
                if on_bytes is not None:
                    on_bytes(len(held))
            held = data
        if pending is not None:
            await pending
    except UpstreamError as exc:
        await on_failure(f"stream aborted: {exc}")
        raise
    problem = digest.problem()
    if problem is not None:
        await on_failure(f"stream aborted: digest mismatch: {problem}")
        raise DigestMismatch(f"{entry.path}: {problem}")
    if on_verified is not None:
        on_verified()
    if held is not None:
        yield held
        if on_bytes is not None:
            on_bytes(len(held))


async def plain_body(
    chunks: AsyncIterator[bytes],
    *,
    on_failure: Failure,
    on_bytes: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Yield a range that cannot be checked against the whole-file digest, as it comes."""
    try:
        async for data in chunks:
            yield data
            if on_bytes is not None:
                on_bytes(len(data))
    except UpstreamError as exc:
        await on_failure(f"stream aborted: {exc}")
        raise
