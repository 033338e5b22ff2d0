"""Writers of several processes on one SQLite file take turns on a file lock beside it.

Without it they meet in SQLite's busy handler, which polls with sleeps growing to 100 ms: under
load, a worker's whole batch of requests slept while the other worker's writer came and went.
`flock` wakes the next writer as soon as the lock is released. PostgreSQL needs none (its
writers wait on the audit head's row lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from gate.errors import StoreError


class WritersLock:
    """An exclusive lock on `<database>-writers.lock`, held for each write transaction."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}-writers.lock"
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreError(f"cannot open the write lock {self.path}: {exc}") from None
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
