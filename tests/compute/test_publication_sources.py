"""Publication sources asked over real HTTP (a loopback hub): evidence, staleness, failures."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

from gate.compute.publication import publication_status
from gate.hub.publication_sources import PublicationSources
from gate.rules.loader import load_default_ruleset
from tests.compute.fake_hub import COMMIT, FakeHub, FakeRepo, serve

RULES = load_default_ruleset()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _hub() -> FakeHub:
    return FakeHub(
        {
            "org/open": FakeRepo({}, card_data={"license": "apache-2.0"}),
            "org/gated": FakeRepo({}, gated="manual", card_data={"license": "apache-2.0"}),
            "org/nc": FakeRepo({}, card_data={"license": "cc-by-nc-4.0"}),
        }
    )


def _revisions(hub: FakeHub) -> int:
    return sum("/revision/" in r for r in hub.requests)


async def _published(sources: PublicationSources, repo: str, commit: str = COMMIT) -> bool | None:
    seen = await sources.observe(repo, commit)
    return publication_status(RULES, observations=seen).published


def test_hub_answers_are_evidence() -> None:
    async def run(endpoint: str) -> None:
        sources = PublicationSources([endpoint])
        try:
            assert await _published(sources, "org/open") is True
            assert await _published(sources, "org/gated") is False
            assert await _published(sources, "org/nc") is None
            assert await _published(sources, "org/missing") is None
            assert await _published(sources, "org/open", "f" * 40) is None  # another commit
        finally:
            await sources.aclose()

    with serve(_hub()) as endpoint:
        asyncio.run(run(endpoint))


def test_answers_are_remembered_then_checked_again_when_stale() -> None:
    hub = _hub()
    clock = Clock()

    async def run(endpoint: str) -> None:
        sources = PublicationSources([endpoint], max_age=timedelta(hours=1), clock=clock)
        try:
            assert await _published(sources, "org/open") is True
            asked = _revisions(hub)
            clock.now += timedelta(minutes=30)
            assert await _published(sources, "org/open") is True
            assert _revisions(hub) == asked  # fresh: not asked again
            hub.repos["org/open"].private = True  # the repository was taken private
            clock.now += timedelta(hours=1)
            assert await _published(sources, "org/open") is False
            assert _revisions(hub) == asked + 1
        finally:
            await sources.aclose()

    with serve(hub) as endpoint:
        asyncio.run(run(endpoint))


def test_unreachable_source_gives_no_evidence() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def run() -> None:
        sources = PublicationSources([f"http://127.0.0.1:{port}"], timeout=2.0)
        try:
            assert await sources.observe("org/open", COMMIT) == []
            assert await _published(sources, "org/open") is None
        finally:
            await sources.aclose()
        assert await PublicationSources([]).observe("org/open", COMMIT) == []

    asyncio.run(run())
