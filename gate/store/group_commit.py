"""Group commit: one writer thread per store runs queued work in shared transactions.

The cost of an append is mostly the transaction (SQLite's write lock and WAL write,
PostgreSQL's round trips and fsync), not the entry. So appends are not written by the threads
that ask for them: they queue their work, and one writer thread per store takes everything
queued, runs it in one transaction and commits. Each caller still returns only once its own
work is committed (or gets the error its transaction failed with), so "no record, no transfer"
holds exactly as with one transaction per entry.

Two ways in: `submit` from a thread (it blocks), and `submit_async` from an event loop (it
awaits). The event loop is woken once per batch, not once per request: a hand-off per request
(a thread hop each way) used to cost more than the decision and its append together.

The committer knows nothing of the audit chain: it runs callables on the connection that
`transaction` yields (the store's `write`). `gate.store.chain` and `gate.store.record` submit
the work; the committer lives on the store object, one per store.
"""

from __future__ import annotations

import asyncio
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
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Any] | None = None
    event: threading.Event | None = None
    result: Any = None
    error: BaseException | None = field(default=None)


class GroupCommitter:
    """Runs submitted work in shared transactions on its own writer thread."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Any]]) -> None:
        self._transaction = transaction
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Transactions run so far (for tests and benchmarks: several works share one)."""

    def submit(self, work: Work) -> Any:
        """Run `work(connection)` in a transaction shared with concurrent callers; its result
        once committed (or the exception the transaction failed with)."""
        item = _Pending(work, event=threading.Event())
        self._enqueue(item)
        assert item.event is not None
        item.event.wait()
        if item.error is not None:
            raise item.error
        return item.result

    async def submit_async(self, work: Work) -> Any:
        """`submit` for an event loop: awaits the commit without holding a thread."""
        loop = asyncio.get_running_loop()
        item = _Pending(work, loop=loop, future=loop.create_future())
        self._enqueue(item)
        assert item.future is not None
        # Shielded: a cancelled request must not lose track of work that may still commit.
        return await asyncio.shield(item.future)

    def _enqueue(self, item: _Pending) -> None:
        with self._cond:
            self._queue.append(item)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gate-writer", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                batch = self._queue[:_MAX_BATCH]
                del self._queue[:_MAX_BATCH]
            self._write(batch)
            self.batches += 1
            _deliver(batch)

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with self._transaction() as connection:
                results = [pending.work(connection) for pending in batch]
        except BaseException as exc:
            # Nothing in the batch was committed: every waiter gets the error (none is dropped).
            for pending in batch:
                pending.error = exc
            return
        for pending, result in zip(batch, results, strict=True):
            pending.result = result


def _deliver(batch: list[_Pending]) -> None:
    """Wake every waiter of a committed (or failed) batch: threads one by one, each event loop
    once for all of its waiters."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
    for pending in batch:
        if pending.event is not None:
            pending.event.set()
        elif pending.loop is not None:
            by_loop.setdefault(pending.loop, []).append(pending)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, items)
        except RuntimeError:
            continue  # the loop is closed: nobody is waiting any more


def _settle(items: list[_Pending]) -> None:
    for pending in items:
        future = pending.future
        if future is None or future.done():
            continue
        if pending.error is not None:
            future.set_exception(pending.error)
        else:
            future.set_result(pending.result)
