"""Group commit: concurrent appends in one process share a transaction.

The cost of an append is mostly the commit (SQLite's WAL write, PostgreSQL's fsync), not the
entry. When several request threads append at once, the first becomes the leader and writes
everything queued in one transaction; the others wait for it. Each caller still returns only
after its own entry is committed (or gets the StoreError that its transaction failed with), so
"no record, no transfer" holds exactly as with one transaction per entry.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gate.store.db import Store

_MAX_BATCH = 500


@dataclass(slots=True)
class _Pending:
    kind: str
    full: Mapping[str, Any]
    body: bytes
    now: datetime
    columns: tuple[Any, ...]
    done: bool = False
    result: Any = None
    error: BaseException | None = field(default=None)


class GroupCommitter:
    """Appends for one store; `submit` blocks until the entry is committed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leader = False

    def submit(
        self,
        kind: str,
        full: Mapping[str, Any],
        body: bytes,
        now: datetime,
        columns: tuple[Any, ...],
    ) -> Any:
        item = _Pending(kind, full, body, now, columns)
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
        from gate.store.audit import append_raw

        try:
            with self.store.raw_write() as driver:
                results = [
                    append_raw(driver, self.store, p.kind, p.full, p.body, p.now, p.columns)
                    for p in batch
                ]
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
