"""One read of the records for many concurrent requests that need the same thing.

When the records cache is emptied (a record changed, or its time ran out), every request in
flight misses it at once; each used to read the records in a worker thread, queueing behind the
others for tens of milliseconds. Now the first request for a thing (a token, a file's decision)
reads, and the others wait for it, then look in memory again (and read themselves only when
memory still cannot answer, e.g. the first one failed). Nothing is shared but the wait: each
request still gets its own answer, decided and recorded for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class Flights:
    """Per event loop: which things are being read from the records right now."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Event] = {}

    async def run(
        self,
        key: Hashable,
        from_memory: Callable[[], Awaitable[T | None]],
        from_records: Callable[[], Awaitable[T]],
    ) -> T:
        running = self._running.get(key)
        if running is not None:
            await running.wait()
            found = await from_memory()
            return found if found is not None else await from_records()
        done = self._running[key] = asyncio.Event()
        try:
            return await from_records()
        finally:
            del self._running[key]
            done.set()
