"""Faults: a corrupt blob, the records store down, an upstream that dies mid-stream."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError
from sqlalchemy import event

from gate.core.values import ModelFacts
from gate.errors import StoreError, UpstreamError
from gate.hub.local import LocalStore
from gate.hub.source import FileEntry, Resolved
from gate.hub.upstream import UpstreamSource
from gate.server.app import create_app
from gate.store import recipients
from gate.store.db import open_store
from tests.server.conftest import (
    Repos,
    ServerThread,
    StoreKeeper,
    add_repo,
    blob_path,
    store_keeper,
)

ACME = {"Authorization": "Bearer tok-acme"}


def test_corrupt_blob_is_aborted_and_recorded(
    gate: ServerThread, repos: Repos, keeper: StoreKeeper, tmp_path: Path
) -> None:
    data = repos.files["lab/mystery"]["big.bin"]
    keeper.rule("lab/mystery", ModelFacts(repo_id="lab/mystery", published=True))
    blob = blob_path(repos.root, "lab/mystery", data)
    corrupt = bytearray(data)
    corrupt[-5] ^= 0xFF  # same size, one byte flipped near the end
    blob.write_bytes(bytes(corrupt))

    with pytest.raises((HfHubHTTPError, OSError)):
        hf_hub_download(
            "lab/mystery", "big.bin", endpoint=gate.url, token="tok-acme", cache_dir=tmp_path / "c"
        )
    assert not [p for p in (tmp_path / "c").rglob("big.bin") if p.is_file()]
    assert any(
        "digest mismatch" in detail
        for _, outcome, detail in keeper.outcomes
        if outcome == "aborted"
    )

    # The corruption is remembered: later requests are refused before any byte.
    again = httpx.get(f"{gate.url}/lab/mystery/resolve/main/big.bin", headers=ACME)
    assert again.status_code == 502
    assert bytes(corrupt) not in again.content


def test_store_down_no_bytes_leave(gate: ServerThread, keeper: StoreKeeper) -> None:
    keeper.store_down = True
    response = httpx.get(f"{gate.url}/open/small/resolve/main/model.safetensors", headers=ACME)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert httpx.get(f"{gate.url}/readyz").status_code == 503
    head = httpx.head(f"{gate.url}/open/small/resolve/main/config.json", headers=ACME)
    assert (
        head.status_code == 503
    )  # (the client backs off and retries 5xx for ~20 s, then gives up)
    keeper.store_down = False
    assert httpx.get(f"{gate.url}/readyz").status_code == 200


class DyingStore(LocalStore):
    """A store that sends the first chunk of a file, then dies for good."""

    dead = False

    async def resolve(self, repo_id: str, revision: str) -> Resolved:
        if self.dead:
            raise UpstreamError("store is dead")
        return await super().resolve(repo_id, revision)

    async def open(
        self, repo_id: str, commit: str, entry: FileEntry, start: int, stop: int
    ) -> AsyncIterator[bytes]:
        if entry.size < 1 << 20:
            async for chunk in super().open(repo_id, commit, entry, start, stop):
                yield chunk
            return
        async for chunk in super().open(repo_id, commit, entry, start, stop):
            yield chunk
            self.dead = True
            raise UpstreamError("died mid-stream")


@pytest.mark.slow
def test_upstream_dies_mid_stream(repos: Repos, keeper: StoreKeeper, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096 * 4  # 4 MiB
    add_repo(repos.root, "open/big", {"weights.bin": data})
    keeper.rule("open/big", ModelFacts(repo_id="open/big", published=True))
    upstream_keeper = store_keeper(
        tmp_path / "upstream-records", {"open/big": ModelFacts(repo_id="open/big", published=True)}
    )
    proxy_token = upstream_keeper.tokens["tok-proxy"]
    with (
        ServerThread(create_app(DyingStore(repos.root), upstream_keeper)) as upstream,
        ServerThread(create_app(UpstreamSource(upstream.url, proxy_token), keeper)) as front,
        pytest.raises((HfHubHTTPError, OSError)),
    ):
        hf_hub_download(
            "open/big",
            "weights.bin",
            endpoint=front.url,
            token="tok-acme",
            cache_dir=tmp_path / "c",
        )
    assert not [p for p in (tmp_path / "c").rglob("weights.bin") if p.is_file()]
    aborted = [detail for _, outcome, detail in keeper.outcomes if outcome == "aborted"]
    assert aborted and "upstream" in aborted[0]


def test_resume_is_checked_against_the_whole_file(
    gate: ServerThread, repos: Repos, keeper: StoreKeeper
) -> None:
    data = repos.files["lab/mystery"]["big.bin"]
    keeper.rule("lab/mystery", ModelFacts(repo_id="lab/mystery", published=True))
    url = f"{gate.url}/lab/mystery/resolve/main/big.bin"
    tail = httpx.get(url, headers={**ACME, "Range": "bytes=1000000-"})
    assert tail.status_code == 206
    assert tail.content == data[1000000:]
    # Corrupt a byte BEFORE the resumed range: the resume must still fail its check.
    corrupt = bytearray(data)
    corrupt[10] ^= 0xFF
    blob_path(repos.root, "lab/mystery", data).write_bytes(bytes(corrupt))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url, headers={**ACME, "Range": "bytes=1000000-"})
    assert any("digest mismatch" in d for _, o, d in keeper.outcomes if o == "aborted")


def test_a_late_resume_starts_at_once_without_rehashing(
    gate: ServerThread, repos: Repos, keeper: StoreKeeper
) -> None:
    """Re-hashing 90 GB before a resume's first byte would outlast the client's 10 s wait."""
    gate.server.config.app.state.gate.resume_verify_limit = 500_000
    data = repos.files["lab/mystery"]["big.bin"]
    keeper.rule("lab/mystery", ModelFacts(repo_id="lab/mystery", published=True))
    url = f"{gate.url}/lab/mystery/resolve/main/big.bin"
    corrupt = bytearray(data)
    corrupt[10] ^= 0xFF  # before the resumed ranges: only a whole-file check can see it
    blob_path(repos.root, "lab/mystery", data).write_bytes(bytes(corrupt))
    late = httpx.get(url, headers={**ACME, "Range": "bytes=1000000-"})  # past the limit
    assert late.status_code == 206 and late.content == data[1000000:]
    with pytest.raises(httpx.RemoteProtocolError):  # within the limit: checked, and cut
        httpx.get(url, headers={**ACME, "Range": "bytes=400000-"})


def test_health_and_metrics(gate: ServerThread) -> None:
    assert httpx.get(f"{gate.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{gate.url}/readyz").status_code == 200
    httpx.head(f"{gate.url}/open/small/resolve/main/model.safetensors", headers=ACME)
    text = httpx.get(f"{gate.url}/metrics").text
    assert 'gate_decisions_total{verdict="allow"} 1' in text
    assert 'gate_request_seconds_count{route="resolve_head"} 1' in text


# -- store faults heal without a restart (issue 11 item 5) ----------------------------------

# Each pragma leaves a SQLite connection the way a fault leaves it, for as long as it lives:
# `query_only` as a connection opened while the file was not writable ("attempt to write a
# readonly database"), `max_page_count` as one that met a full disk ("database or disk is full").
EPISODES = {
    "read-only": lambda conn: conn.execute("PRAGMA query_only = ON"),
    "full disk": lambda conn: conn.execute(
        f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}"
    ),
}


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("episode", sorted(EPISODES))
def test_a_store_fault_heals_without_a_restart_and_readiness_tells_the_truth(
    gate: ServerThread, keeper: StoreKeeper, episode: str
) -> None:
    hold = f"{gate.url}/lab/mystery/resolve/main/model.safetensors"
    allow = f"{gate.url}/open/small/resolve/main/model.safetensors"
    assert httpx.get(hold, headers=ACME).status_code == 403
    assert httpx.get(f"{gate.url}/readyz").status_code == 200
    engine = keeper.store.engine
    spoil = EPISODES[episode]

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        spoil(dbapi_conn)

    captured = Captured()
    logging.getLogger("gate.server").addHandler(captured)
    # The episode: from now on every connection is opened in the faulty state.
    event.listen(engine, "connect", on_connect)
    engine.dispose()
    try:
        for url in (hold, allow, hold):
            assert httpx.get(url, headers=ACME).status_code == 503
        ready = httpx.get(f"{gate.url}/readyz")
        assert ready.status_code == 503, ready.text  # SELECT 1 would still answer
    finally:
        event.remove(engine, "connect", on_connect)
        logging.getLogger("gate.server").removeHandler(captured)
    # The fault is fixed (no restart, no dispose by anyone but the gate itself).
    statuses = [httpx.get(hold, headers=ACME).status_code for _ in range(4)]
    assert statuses[-2:] == [403, 403], statuses
    assert statuses.count(503) <= 1, statuses
    assert httpx.get(allow, headers=ACME).status_code == 200
    assert httpx.get(f"{gate.url}/readyz").status_code == 200
    # Every 503 left a log line and a count.
    failed = [r for r in captured.records if getattr(r, "fields", {}).get("status") == 503]
    assert len(failed) >= 3
    metrics = httpx.get(f"{gate.url}/metrics").text
    counted = re.search(r'gate_errors_total\{status="503",error="StoreError"\} (\d+)', metrics)
    assert counted is not None and int(counted.group(1)) >= 3
    assert 'gate_errors_total{status="503",error="NotReady"}' in metrics


def test_readiness_writes_and_heals_on_either_database(database_url: str) -> None:
    """A read-only database (a PostgreSQL standby after a failover, a read-only SQLite file)
    is not ready, and is ready again once writable, on the same store object."""
    store = open_store(database_url)
    store.ping()
    read_only = (
        "SET default_transaction_read_only = on"
        if store.dialect == "postgresql"
        else "PRAGMA query_only = ON"
    )

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(read_only)
        cursor.close()
        if store.dialect == "postgresql":
            dbapi_conn.commit()

    event.listen(store.engine, "connect", on_connect)
    store.engine.dispose()
    try:
        assert recipients.list_all(store) == []  # reading still works: only writing fails
        with pytest.raises(StoreError, match="read-only"):
            store.ping()
    finally:
        event.remove(store.engine, "connect", on_connect)
    store.ping()  # no dispose by the test: the gate discarded the read-only connections
    recipients.add(store, "acme", actor="t", name="Acme")
    store.close()
