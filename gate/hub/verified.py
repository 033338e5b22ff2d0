"""Blobs whose bytes were checked against their sha256, remembered with the file's identity.

A local store's blob is checked once (the first download hashes it on the way, as every
upstream download is) and then remembered with its identity: device, inode, size, mtime and
ctime (nanoseconds). Later downloads of the same identity are sent zero-copy without re-hashing.
Any write through the filesystem changes the ctime (which no user call can set back), so an
edited, replaced or truncated blob is hashed again on its next download. What the identity
cannot see: bytes changed beneath the filesystem (a failing disk, writes to the raw device).
Those are caught when a verification expires (`max_age`, then the next download hashes again)
or by the plugin's end-to-end check on the client.

The registry is per process, in memory: every worker verifies a blob once after it starts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Identity = tuple[int, int, int, int, int]
"""(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of a file."""

_MAX_ENTRIES = 65536


def identity_of(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def path_identity(path: str) -> Identity | None:
    try:
        return identity_of(os.stat(path))
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class _Verified:
    sha256: str
    identity: Identity
    at: float


class VerifiedBlobs:
    """path -> (sha256, identity, when) for blobs whose whole body matched its sha256."""

    def __init__(
        self, max_age: float | None = 24 * 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, _Verified] = {}

    def check(self, path: str, sha256: str) -> Identity | None:
        """The blob's identity when its bytes were verified as `sha256` under that identity
        (and not longer ago than `max_age`); None: hash it again before trusting it."""
        with self._lock:
            known = self._known.get(path)
        if known is None or known.sha256 != sha256:
            return None
        if self.max_age is not None and self._clock() - known.at > self.max_age:
            self.forget(path)
            return None
        if path_identity(path) != known.identity:
            self.forget(path)
            return None
        return known.identity

    def add(self, path: str, sha256: str, identity: Identity) -> bool:
        """Remember a blob verified while it had `identity`; refused if it has changed since."""
        if path_identity(path) != identity:
            return False
        with self._lock:
            if len(self._known) >= _MAX_ENTRIES:
                self._known.pop(next(iter(self._known)))
            self._known[path] = _Verified(sha256, identity, self._clock())
        return True

    def forget(self, path: str) -> None:
        with self._lock:
            self._known.pop(path, None)
