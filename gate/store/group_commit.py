"""Group commit: concurrent appends in one process share a transaction.

The cost of an append is mostly the commit (SQLite's WAL write, PostgreSQL's fsync), not the
entry. When several request threads append at once, the first becomes the leader and runs every
queued piece of work in one transaction; the others wait for it. Each caller still returns only
after its own work is committed (or gets the error its transaction failed with), so "no record,
no transfer" holds exactly as with one transaction per entry.

The committer knows nothing of the audit chain: it runs callables on the connection that
`transaction` yields (the store's `raw_write`). `gate.store.chain` submits the appends; the
committer lives on the store object, one per store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

_MAX_BATCH = 500

Work = Callable[[Any], Any]


@dataclass(slots=True)
class _Pending:
    work: Work
    done: bool = False
    result: Any = None
    error: BaseException | None = field(default=None)


class GroupCommitter:
    """Runs submitted work in shared transactions; `submit` blocks until its work is committed."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Any]]) -> None:
        self._transaction = transaction
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leader = False

    def submit(self, work: Work) -> Any:
        """Run `work(driver)` inside a transaction shared with concurrent callers; its result."""
        item = _Pending(work)
        with self._cond:
            self._queue.append(item)
            while self._leader and not item.done:
                self._cond.wait()
            if not item.done:
                self._leader = True
        if not item.done:
            try:
                while not item.done:
                    with self._cond:
                        batch = self._queue[:_MAX_BATCH]
                        del self._queue[:_MAX_BATCH]
                    self._write(batch)
            finally:
                with self._cond:
                    self._leader = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        return item.result

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with self._transaction() as driver:
                results = [pending.work(driver) for pending in batch]
        except BaseException as exc:
            # Nothing in the batch was committed: every waiter gets the error (none is dropped).
            with self._cond:
                for pending in batch:
                    pending.error, pending.done = exc, True
                self._cond.notify_all()
            return
        with self._cond:
            for pending, result in zip(batch, results, strict=True):
                pending.result, pending.done = result, True
            self._cond.notify_all()
