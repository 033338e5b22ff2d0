"""Writers of several processes on one SQLite file take turns on a file lock beside it.

Without it they meet in SQLite's busy handler, which polls with sleeps growing to 100 ms: under
load, a worker's whole batch of requests slept while the other worker's writer came and went.
`flock` wakes the next writer as soon as the lock is released. PostgreSQL needs none (its
writers wait on the audit head's row lock).

A blocking `flock` has no time limit, though: a writer stuck inside its transaction (a stopped
CLI, a hung disk) would keep every other process's decisions waiting without end, where SQLite's
busy timeout answers "locked by another writer for too long" after 30 s. So the lock is tried
without blocking first; when another process holds it, a helper thread waits for it with a
blocking `flock` (handed over by the kernel at once and in turn: polling instead let one worker
starve the other), and the writer waits for the helper no longer than the busy timeout. A helper
that gets the lock after its writer gave up releases it and closes its descriptor.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

from gate.errors import StoreError

WAIT_SECONDS = 30.0
"""As long as SQLite's busy timeout (`PRAGMA busy_timeout = 30000` in `gate.store.db`)."""


def take_exclusive(fd: int, wait: float = WAIT_SECONDS) -> bool:
    """Lock `fd` exclusively (flock); False when another holder kept it for `wait` seconds,
    and then `fd` belongs to a helper thread, which unlocks and closes it once it has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    taken = threading.Event()
    settled = threading.Lock()
    abandoned = False

    def take() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with settled:
            if not abandoned:
                taken.set()
                return
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    threading.Thread(target=take, name="gate-writers-lock", daemon=True).start()
    if taken.wait(wait):
        return True
    with settled:
        if taken.is_set():
            return True
        abandoned = True
    return False


class WritersLock:
    """An exclusive lock on `<database>-writers.lock`, held for each write transaction."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.path = f"{database}-writers.lock"
        self.wait = WAIT_SECONDS
        """Seconds a write waits for another process's writer."""
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreError(f"cannot open the write lock {self.path}: {exc}") from None
        fd = self._fd
        if not take_exclusive(fd, self.wait):
            self._fd = None  # the helper still waiting on it closes it
            raise StoreError(
                f"database is locked by another writer for too long (SQLite file {self.database})"
            )
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
