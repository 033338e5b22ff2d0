"""An upstream source whose whole-file relays are kept, verified, for the next recipient.

`CachingSource` wraps an `UpstreamSource` and changes only where bytes come from: resolving,
listing and describing files go upstream as before, and the server decides and records every
request before it asks for any byte, exactly as without the cache.

`open` of a byte range, by case:

- the blob is in the cache and this process hashed it under its present identity (device,
  inode, size, mtime, ctime; see `gate.hub.verified`): any range is read from disk;
- the blob is in the cache but not verified here (after a restart, another worker kept it, its
  identity changed, or the verification is older than `blob_reverify_seconds`): a whole-file
  read comes from disk and is hashed on the way; the last chunk is sent only when the digest
  matches, otherwise the blob is removed and the stream cut (the client's retry relays it
  afresh). A partial range of such a blob is relayed from upstream (it cannot be checked);
- not in the cache: the range is relayed from upstream; a whole-file read is also written to
  a temporary file and kept when the relay ended with the listed sha256 (`gate.hub.blob_cache`).

The server's own digest check (`gate.server.streaming.verified_body`) runs on every stream
whatever this source does, so a blob corrupted on disk beneath the filesystem after it was
verified (which its identity cannot show) still never completes a transfer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread

from gate.errors import UpstreamError
from gate.hub.blob_cache import BlobCache, CachedBlob
from gate.hub.source import FileEntry, Refs, Resolved, chunk_size, stream_slot
from gate.hub.upstream import UpstreamSource
from gate.hub.verified import VerifiedBlobs

log = logging.getLogger("gate.hub.cached_upstream")

_INLINE = 64 * 1024
"""Chunks smaller than this are written and read on the event loop (a thread hop costs more)."""


class CachingSource:
    """A `ModelSource`: `inner` for everything, its bytes kept in `cache` once verified."""

    def __init__(self, inner: UpstreamSource, cache: BlobCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = f"{inner.name} (cache {cache.root})"
        self.served_from_cache = 0
        """Downloads answered from the cache, zero-copy or read from disk (tests, benchmark)."""
        self.kept = 0
        """Relays kept as blobs."""

    async def resolve(self, repo_id: str, revision: str) -> Resolved:
        return await self.inner.resolve(repo_id, revision)

    async def refs(self, repo_id: str) -> Refs:
        return await self.inner.refs(repo_id)

    async def list_files(self, repo_id: str, commit: str) -> list[FileEntry]:
        return await self.inner.list_files(repo_id, commit)

    async def file(self, repo_id: str, commit: str, path: str) -> FileEntry:
        return await self.inner.file(repo_id, commit, path)

    async def repo_info(self, repo_id: str, commit: str) -> dict[str, Any] | None:
        return await self.inner.repo_info(repo_id, commit)

    async def ready(self) -> None:
        await self.inner.ready()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def blob_on_disk(
        self, repo_id: str, commit: str, entry: FileEntry
    ) -> tuple[str, VerifiedBlobs] | None:
        """`BlobsOnDisk`: a kept blob this process verified (any other: None, and `open`
        decides how to serve it)."""
        sha256 = entry.sha256
        if sha256 is None or not self.cache.keeps(sha256, entry.size):
            return None
        path = self.cache.path(sha256)
        if self.cache.verified.check(path, sha256) is None:
            return None
        self.cache.touch(sha256)  # used: the last to be evicted
        self.served_from_cache += 1
        return path, self.cache.verified

    async def open(
        self, repo_id: str, commit: str, entry: FileEntry, start: int, stop: int
    ) -> AsyncIterator[bytes]:
        if start >= stop:
            return
        whole = (start, stop) == (0, entry.size)
        sha256 = entry.sha256
        if sha256 is None or not self.cache.keeps(sha256, entry.size):
            async for chunk in self.inner.open(repo_id, commit, entry, start, stop):
                yield chunk
            return
        # On the event loop (a few metadata calls, as a local store's checks): a thread's result
        # dropped by a cancellation would leak the descriptor.
        blob = self.cache.open(sha256, entry.size)
        if blob is not None and not (blob.verified or whole):
            blob.close()
            blob = None
        if blob is not None:
            self.served_from_cache += 1
            async for chunk in self._from_disk(blob, entry, start, stop):
                yield chunk
        elif whole:
            async for chunk in self._relay_and_keep(repo_id, commit, entry, sha256):
                yield chunk
        else:
            async for chunk in self.inner.open(repo_id, commit, entry, start, stop):
                yield chunk

    async def _from_disk(
        self, blob: CachedBlob, entry: FileEntry, start: int, stop: int
    ) -> AsyncIterator[bytes]:
        """Bytes [start, stop) of a cached blob; an unverified one (read whole) is hashed and
        its last chunk held back until the digest matches."""
        digest = None if blob.verified else hashlib.sha256()
        try:
            with stream_slot():
                offset = start
                while offset < stop:
                    size = min(chunk_size(), stop - offset)
                    try:
                        if size < _INLINE:
                            data = blob.read(offset, size, digest)
                        else:
                            data = await anyio.to_thread.run_sync(blob.read, offset, size, digest)
                    except OSError as exc:
                        self.cache.verified.forget(blob.path)
                        raise UpstreamError(f"cache: {exc}") from exc
                    offset += size
                    if offset == stop and digest is not None:
                        if digest.hexdigest() != blob.sha256:
                            # Worded apart from a source's digest mismatch: the file is not
                            # bad upstream, only this copy, and it is gone now.
                            await anyio.to_thread.run_sync(
                                self.cache.discard, blob.sha256, blob.identity
                            )
                            raise UpstreamError(
                                f"cached copy of {entry.path} failed its check and was removed"
                            )
                        self.cache.remember(blob)
                    yield data
        finally:
            blob.close()

    async def _relay_and_keep(
        self, repo_id: str, commit: str, entry: FileEntry, sha256: str
    ) -> AsyncIterator[bytes]:
        """The whole file from upstream, each chunk also written to the cache's copy (in a
        thread, while the chunk goes out); the copy is kept only once the relay is complete."""
        try:
            writer = self.cache.writer(sha256, entry.size)  # on the loop: see `open`
        except OSError as exc:  # a full or broken cache folder never stops a relay
            log.warning("not caching %s: %s", sha256, exc)
            async for chunk in self.inner.open(repo_id, commit, entry, 0, entry.size):
                yield chunk
            return
        pending: asyncio.Future[None] | None = None
        kept = False
        try:
            async for chunk in self.inner.open(repo_id, commit, entry, 0, entry.size):
                if pending is not None:
                    await pending
                    pending = None
                if len(chunk) < _INLINE:
                    writer.write(chunk)
                else:
                    pending = asyncio.ensure_future(anyio.to_thread.run_sync(writer.write, chunk))
                yield chunk
            if pending is not None:
                await pending
                pending = None
            kept = await anyio.to_thread.run_sync(writer.commit)
            self.kept += kept
        finally:
            if not kept:
                # Waits (under the writer's lock) for a write under way in its thread, so the
                # temporary file is gone when the stream is.
                writer.abort()
