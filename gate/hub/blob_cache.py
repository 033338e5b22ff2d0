"""A folder of upstream blobs kept for the next recipient, each verified before it is kept.

Layout under the operator's folder (`--upstream-cache DIR`):

    DIR/blobs/<sha256>   a whole file whose bytes hashed to that sha256 when it was relayed
    DIR/used/<sha256>    empty; its mtime is the blob's last use (the LRU order)
    DIR/tmp/*.part       relays in progress (one unique name per relay)

A blob is only ever put in place by `BlobWriter.commit`: the relay wrote every byte of the file,
the bytes' sha256 equals the name the listing gave (`FileEntry.sha256`, checked to be 64 hex
digits, so an upstream cannot name a path), the data is fsynced, and then it is linked into
`blobs/` atomically. Anything else (an upstream that dies, a body with another digest, a full
disk, a client that goes away) unlinks the temporary file: nothing half-written is ever named
as a blob. Two relays of one blob (two workers) write two temporary files; the first to finish
links its copy, the second finds the name taken and drops its own, so a blob another process is
reading is never replaced under it.

The last use is kept beside the blob rather than in its own times: touching a blob would change
its ctime and so its identity, which is what tells an edited blob from a verified one
(`gate.hub.verified`). Eviction removes the least recently used blobs until the folder holds at
most `max_bytes` (relays in progress are not counted; a file larger than the cap is never kept).
Readers that have a blob open keep reading it after it is evicted (POSIX unlink semantics).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gate.errors import InputError
from gate.hub.verified import Identity, VerifiedBlobs, identity_of
from gate.names import is_sha256

log = logging.getLogger("gate.hub.blob_cache")

SYNC_EVERY = 64 * 1024 * 1024
"""Bytes written between data syncs, so the final fsync (which holds the last chunk of the
relay) has at most this much left to flush whatever the file's size."""
STALE_TEMP_SECONDS = 3600.0
"""A temporary file untouched this long belongs to a relay that died with its process."""


@dataclass
class CachedBlob:
    """An open cached blob: read it through `read`, which refuses once its identity changes."""

    sha256: str
    path: str
    fd: int
    identity: Identity
    verified: bool
    """Its bytes were hashed under this identity by this process (and not too long ago)."""

    def read(self, offset: int, size: int, digest: hashlib._Hash | None = None) -> bytes:
        """`size` bytes from `offset`, also fed to `digest`; OSError when the blob changed."""
        if identity_of(os.fstat(self.fd)) != self.identity:
            raise OSError(f"cached blob {self.sha256} changed while it was being read")
        data = os.pread(self.fd, size, offset)
        if len(data) != size:
            raise OSError(f"cached blob {self.sha256} is shorter than its listed size")
        if digest is not None:
            digest.update(data)
        return data

    def close(self) -> None:
        os.close(self.fd)


class BlobCache:
    """The cache folder: find a blob, start a relay's copy, evict by last use."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        max_bytes: int,
        *,
        verify_max_age: float | None = 24 * 3600.0,
    ) -> None:
        self.root = Path(root).resolve()
        self.max_bytes = max_bytes
        self.blobs = self.root / "blobs"
        self.used = self.root / "used"
        self.tmp = self.root / "tmp"
        try:
            for folder in (self.blobs, self.used, self.tmp):
                folder.mkdir(parents=True, exist_ok=True)
                if not os.access(folder, os.W_OK | os.X_OK):
                    raise PermissionError(f"{folder} is not writable")
        except OSError as exc:
            raise InputError(
                "upstream_cache", f"cannot use {self.root} as the cache: {exc}"
            ) from None
        self.verified = VerifiedBlobs(verify_max_age)
        """Blobs this process hashed, with the identity they had (as a local store's)."""
        self._sweep_temp()

    def path(self, sha256: str) -> str:
        if not is_sha256(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return str(self.blobs / sha256)

    def keeps(self, sha256: str | None, size: int) -> bool:
        """Whether a file of this digest and size may be kept at all."""
        return sha256 is not None and is_sha256(sha256) and size <= self.max_bytes

    def open(self, sha256: str, size: int) -> CachedBlob | None:
        """The cached blob, open, or None when there is none of that size."""
        path = self.path(sha256)
        try:
            # Never through a symlink: a name planted in the folder must not make the gate read
            # (and start sending) another file of its own, its signing key for one.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError:
            self._remove_planted(path)
            return None
        st = os.fstat(fd)
        if st.st_size != size or not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            # Not what `BlobWriter.commit` linked in (a regular file of the listed size with no
            # other name, so not a hard link to a file kept elsewhere): drop it.
            os.close(fd)
            self.discard(sha256, identity_of(st))
            return None
        identity = identity_of(st)
        verified = self.verified.check(path, sha256) == identity
        self.touch(sha256)
        return CachedBlob(sha256, path, fd, identity, verified)

    def remember(self, blob: CachedBlob) -> None:
        """`blob`'s bytes were just hashed as its sha256 under its identity."""
        self.verified.add(blob.path, blob.sha256, blob.identity)

    def discard(self, sha256: str, identity: Identity) -> None:
        """Remove a blob found bad, unless it has been replaced since (by a good copy)."""
        path = self.path(sha256)
        self.verified.forget(path)
        try:
            if identity_of(os.stat(path)) == identity:
                os.unlink(path)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.used / sha256)
                log.warning("removed cached blob %s: it failed its check", sha256)
        except FileNotFoundError:
            pass

    def _remove_planted(self, path: str) -> None:
        """A name that cannot be opened as a file (a symlink, a folder) is not a kept blob."""
        self.verified.forget(path)
        with contextlib.suppress(OSError):
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                os.unlink(path)
                log.warning("removed %s from the cache: not a blob the gate kept", path)

    def touch(self, sha256: str) -> None:
        """Mark the blob as used now (explicit nanoseconds: the filesystem's own clock may be
        too coarse to order two uses in a row)."""
        marker = self.used / sha256
        now = time.time_ns()
        try:
            try:
                os.utime(marker, ns=(now, now))
            except FileNotFoundError:
                with open(marker, "ab"):
                    pass
                os.utime(marker, ns=(now, now))
        except OSError:
            pass  # a missing or read-only marker only makes the LRU order less exact

    def writer(self, sha256: str, size: int) -> BlobWriter:
        return BlobWriter(self, sha256, size)

    def evict(self) -> None:
        """Remove the least recently used blobs until the folder holds at most `max_bytes`."""
        found: list[tuple[int, int, str]] = []
        total = 0
        for entry in os.scandir(self.blobs):
            try:
                size = entry.stat().st_size
            except FileNotFoundError:
                continue  # evicted by another worker meanwhile
            try:
                used = os.stat(self.used / entry.name).st_mtime_ns
            except OSError:
                used = entry.stat().st_mtime_ns
            found.append((used, size, entry.name))
            total += size
        for _, size, name in sorted(found):
            if total <= self.max_bytes:
                break
            self.verified.forget(str(self.blobs / name))
            for stale in (self.blobs / name, self.used / name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale)
            total -= size

    def _sweep_temp(self) -> None:
        cutoff = time.time() - STALE_TEMP_SECONDS
        for entry in os.scandir(self.tmp):
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:
                pass


class BlobWriter:
    """One relay's copy of a blob: written and hashed chunk by chunk, kept only on `commit`.

    `write` runs in a worker thread while the event loop sends the same chunk on, and `abort`
    may be called from the event loop while a write is under way: one lock orders them, so the
    descriptor is never closed beneath a write (nor a number reused by another file written to).
    A write that fails (a full disk) stops the copy, never the relay.
    """

    def __init__(self, cache: BlobCache, sha256: str, size: int) -> None:
        self.cache = cache
        self.sha256 = sha256
        self.size = size
        self.final = cache.path(sha256)
        self._lock = threading.Lock()
        self._digest = hashlib.sha256()
        self._written = 0
        self._unsynced = 0
        self._failed: str | None = None
        fd, self.temp = tempfile.mkstemp(prefix=f"{sha256[:16]}.", suffix=".part", dir=cache.tmp)
        self._fd: int | None = fd

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._fd is None or self._failed is not None:
                return
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
                self._unsynced += len(data)
                if self._unsynced >= SYNC_EVERY:
                    os.fdatasync(self._fd)
                    self._unsynced = 0
            except OSError as exc:
                self._failed = f"write failed: {exc}"
                log.warning("not caching %s: %s", self.sha256, self._failed)
                return
            self._digest.update(data)
            self._written += len(data)

    def commit(self) -> bool:
        """Keep the copy when it is the whole file with the listed digest; False: dropped."""
        with self._lock:
            fd = self._fd
            if fd is None:
                return False
            problem = self._failed
            if problem is None and self._written != self.size:
                problem = f"{self._written} of {self.size} bytes"
            if problem is None and self._digest.hexdigest() != self.sha256:
                problem = f"sha256 {self._digest.hexdigest()}"
            if problem is not None:
                self._close_and_unlink()
                log.warning("not caching %s: %s", self.sha256, problem)
                return False
            try:
                os.fsync(fd)
                try:
                    # Never replace: a blob another worker put there is as good and may be in use.
                    os.link(self.temp, self.final)
                except FileExistsError:
                    self._close_and_unlink()
                    return False
                os.unlink(self.temp)
                # Linking and unlinking changed its ctime: the identity is taken after both.
                identity = identity_of(os.fstat(fd))
                self._close_and_unlink()
                _fsync_dir(self.cache.blobs)
            except OSError as exc:
                self._close_and_unlink()
                log.warning("not caching %s: %s", self.sha256, exc)
                return False
        self.cache.verified.add(self.final, self.sha256, identity)
        self.cache.touch(self.sha256)
        try:
            self.cache.evict()
        except OSError as exc:  # the blob is kept and good; only the cap waits for the next one
            log.warning("could not evict from %s: %s", self.cache.root, exc)
        return True

    def abort(self) -> None:
        with self._lock:
            self._close_and_unlink()

    def _close_and_unlink(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)


def _fsync_dir(folder: Path) -> None:
    """Make a link in `folder` survive a crash (the data itself was synced before)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
