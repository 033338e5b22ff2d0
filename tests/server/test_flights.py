"""Requests that miss the records cache together read the records once.

Unit: `Flights` runs one read per thing and lets the others look in memory after it. Server:
the real app on uvicorn over a real records store; after a change to the records empties the
cache, a burst of concurrent downloads of one file is decided with one read of the records,
and every request is still decided and recorded on its own.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from gate.server.flights import Flights
from gate.service.gatekeeper import GateAnswer, TransferContext
from gate.store import models
from gate.store.schema import audit_entries
from tests.server.conftest import ServerThread, StoreKeeper


def test_one_read_for_concurrent_requests_of_one_thing() -> None:
    flights = Flights()
    reads: list[str] = []
    memory: dict[str, str] = {}

    async def from_records(name: str) -> str:
        reads.append(name)
        await asyncio.sleep(0.01)
        memory[name] = f"{name}!"
        return memory[name]

    async def ask(name: str) -> str:
        async def from_memory() -> str | None:
            return memory.get(name)

        return await flights.run(name, from_memory, lambda: from_records(name))

    async def burst() -> list[str]:
        return await asyncio.gather(*(ask(n) for n in ["a"] * 10 + ["b"] * 5))

    answers = asyncio.run(burst())
    assert answers == ["a!"] * 10 + ["b!"] * 5
    assert sorted(reads) == ["a", "b"]


def test_when_the_first_read_fails_the_others_read_themselves() -> None:
    flights = Flights()
    reads = 0

    async def from_records() -> str:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        if reads == 1:
            raise RuntimeError("the records are down for the first")
        return "read"

    async def nothing() -> str | None:
        return None

    async def burst() -> list[object]:
        asks = (flights.run("x", nothing, from_records) for _ in range(4))
        return await asyncio.gather(*asks, return_exceptions=True)

    results = asyncio.run(burst())
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == ["read"] * 3
    assert reads == 4


def _decisions(keeper: StoreKeeper) -> int:
    with keeper.store.read() as conn:
        query = select(func.count()).where(audit_entries.c.kind == "decision")
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize("path", ["config.json", "model.safetensors"])
def test_a_burst_after_a_change_reads_the_records_once(
    gate: ServerThread, keeper: StoreKeeper, path: str
) -> None:
    url = f"{gate.url}/open/small/resolve/main/{path}"
    auth = {"Authorization": f"Bearer {keeper.tokens['tok-acme']}"}
    assert httpx.get(url, headers=auth).status_code == 200  # memory filled
    # Any change to the records (here a designation of another model) empties the cache.
    models.designate(keeper.store, "lab/other", reason="is-informed letter", actor="tests")
    before = _decisions(keeper)
    from_records: list[str] = []
    check = keeper.check

    def counted(ctx: TransferContext) -> GateAnswer:
        from_records.append(ctx.path)
        return check(ctx)

    keeper.check = counted  # type: ignore[method-assign]

    async def burst() -> list[int]:
        async with httpx.AsyncClient() as client:
            got = await asyncio.gather(*(client.get(url, headers=auth) for _ in range(30)))
        return [r.status_code for r in got]

    assert asyncio.run(burst()) == [200] * 30
    assert _decisions(keeper) == before + 30  # each request decided and recorded
    # Decided from the records: the first request only (the others waited, then memory).
    assert len(from_records) <= 2, len(from_records)
