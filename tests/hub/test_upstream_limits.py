"""Upstream calls have deadlines, stop when nobody waits, and cannot starve other repositories.

A deliberately slow fake hub on loopback: repositories under `slow/` drip one byte every half
second and never finish; every other repository is served by a real gate over a local store.
In front of it, the gate under test proxies with an `UpstreamSource` (issue 11 item 6).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from gate.core.values import ModelFacts
from gate.errors import UpstreamError
from gate.hub.local import LocalStore
from gate.hub.upstream import UpstreamSource
from gate.server.app import create_app
from gate.server.background import BackgroundServer
from tests.server.conftest import StoreKeeper, add_repo, store_keeper

ACME = {"Authorization": "Bearer tok-acme"}
FACTS = {"open/fast": ModelFacts(repo_id="open/fast", published=True)}


@dataclass
class SlowHub:
    """ASGI: `slow/*` drips forever (counting open drips), the rest goes to `inner`."""

    inner: Any
    open_drips: int = 0
    started: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or "/slow/" not in scope["path"]:
            await self.inner(scope, receive, send)
            return
        with self.lock:
            self.open_drips += 1
            self.started += 1
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            async with anyio.create_task_group() as group:

                async def until_gone() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(until_gone)
                while True:  # one byte every half second: never a read timeout
                    await send({"type": "http.response.body", "body": b" ", "more_body": True})
                    await anyio.sleep(0.5)
        finally:
            with self.lock:
                self.open_drips -= 1


@dataclass
class Front:
    url: str
    hub: SlowHub
    keeper: StoreKeeper


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[tuple[str, SlowHub]]:
    root = tmp_path / "store"
    add_repo(root, "open/fast", {"config.json": b'{"model_type": "x"}', "w.bin": b"x" * 1000})
    upstream_keeper = store_keeper(tmp_path / "upstream-records", FACTS)
    hub = SlowHub(create_app(LocalStore(root), upstream_keeper))
    with BackgroundServer(hub) as server:
        yield server.url, hub
    upstream_keeper.store.close()


def front(
    tmp_path: Path, world: tuple[str, SlowHub], **source: Any
) -> tuple[BackgroundServer, StoreKeeper]:
    url, _ = world
    keeper = store_keeper(tmp_path / "front-records", FACTS)
    # The proxy's upstream credential is the upstream gate's proxy token (same seed, same name).
    upstream = UpstreamSource(url, "tok-proxy", **source)
    return BackgroundServer(create_app(upstream, keeper)), keeper


def test_a_dripping_upstream_is_cut_off_at_the_deadline(world: tuple[str, SlowHub]) -> None:
    url, hub = world

    async def main() -> None:
        source = UpstreamSource(url, "tok-proxy", deadline=2.0)
        try:
            with anyio.fail_after(60):  # a guard against hanging, far above the deadline
                with pytest.raises(UpstreamError, match="did not answer within 2 s"):
                    await source.resolve("slow/drip", "main")
        finally:
            await source.aclose()

    asyncio.run(main())
    assert hub.started == 1


def test_the_deadline_reaches_the_client_as_an_upstream_failure(
    tmp_path: Path, world: tuple[str, SlowHub]
) -> None:
    server, keeper = front(tmp_path, world, deadline=1.0)
    with server:
        response = httpx.get(f"{server.url}/api/models/slow/drip", headers=ACME, timeout=60)
    assert response.status_code == 502
    assert "did not answer within 1 s" in response.headers["X-Error-Message"]
    keeper.store.close()


def test_work_stops_when_the_client_leaves(tmp_path: Path, world: tuple[str, SlowHub]) -> None:
    _, hub = world
    server, keeper = front(tmp_path, world, deadline=600.0)
    with server:
        for _ in range(5):
            with pytest.raises(httpx.TimeoutException):
                httpx.get(f"{server.url}/api/models/slow/drip", headers=ACME, timeout=1.0)
        # The gate cancels each abandoned request and closes its upstream call: the drips end
        # long before the 600 s deadline would have ended them.
        for _ in range(200):
            if hub.open_drips == 0:
                break
            time.sleep(0.1)
        assert hub.open_drips == 0
        assert hub.started == 5
    keeper.store.close()


@pytest.mark.slow
def test_a_slow_repository_cannot_starve_the_pool_for_the_others(
    tmp_path: Path, world: tuple[str, SlowHub]
) -> None:
    """210 clients waiting on a hanging repository (more than the 200 pooled connections),
    then one asks for a healthy repository: it is served, with the default settings."""
    _, hub = world
    server, keeper = front(tmp_path, world)
    with server:

        async def main() -> tuple[list[int], httpx.Response]:
            limits = httpx.Limits(max_connections=300)
            async with httpx.AsyncClient(timeout=120, limits=limits) as client:

                async def slow(i: int) -> int:
                    try:
                        response = await client.get(
                            f"{server.url}/api/models/slow/drip{i % 3}", headers=ACME
                        )
                    except httpx.HTTPError:
                        return 0
                    return response.status_code

                waiting = [asyncio.ensure_future(slow(i)) for i in range(210)]
                for _ in range(300):  # until the upstream holds every slow call it will get
                    if hub.open_drips >= 3 * 32 or all(w.done() for w in waiting):
                        break
                    await asyncio.sleep(0.1)
                healthy = await client.get(
                    f"{server.url}/open/fast/resolve/main/config.json", headers=ACME, timeout=30
                )
                statuses = await asyncio.gather(*waiting)
            return statuses, healthy

        statuses, healthy = asyncio.run(main())
    assert healthy.status_code == 200, healthy.headers.get("X-Error-Message")
    assert healthy.content == b'{"model_type": "x"}'
    # Each slow repository held at most its share; the rest were told to come back later.
    assert hub.started <= 3 * 32
    assert statuses.count(503) >= 210 - 3 * 32
    keeper.store.close()
