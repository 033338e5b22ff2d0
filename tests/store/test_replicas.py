"""Two `gate serve` replicas on one records database (issue 11, items 2 and 4), SQLite and
PostgreSQL: concurrent downloads of N different weight files against a license capped at K get
exactly min(N, K) through, the others a refusal naming the exhausted license; the replicas'
concurrent first sights of the new commit keep one classification record and no request fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from safetensors.numpy import save
from sqlalchemy import text

from gate.core.values import ComputeInterval
from gate.crypto.keys import KeyRing
from gate.hub.layout import write_snapshot
from gate.store import credentials, licenses, models, recipients
from gate.store.db import CheckpointPolicy, open_store
from gate.store.verify import verify_chain

REPO = "lab/sharded"
N, K = 8, 3
PASSPHRASE = "replica-test-passphrase"
SHARDS = [f"model-{i:05d}-of-{N:05d}.safetensors" for i in range(1, N + 1)]


def _shard(i: int) -> bytes:
    """A real safetensors shard with tensor names of its own (a sharded model's layout)."""
    rng = np.random.default_rng(i)
    return bytes(save({f"layers.{i}.w": rng.standard_normal((64, 4)).astype(np.float32)}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def replicas(database_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    data = tmp_path / "data"
    KeyRing(data / "keys").init(PASSPHRASE)
    files = {"config.json": b'{"model_type": "sharded"}'}
    files.update({name: _shard(i) for i, name in enumerate(SHARDS)})
    write_snapshot(tmp_path / "hub", REPO, files)
    store = open_store(database_url)
    try:
        recipients.add(store, "r-in", actor="t", name="Bharat AI", headquarters="IN", parent="self")
        recipients.update_recipient(store, "r-in", actor="t", destinations=["IN"])
        token, _ = credentials.create_token(store, "r-in", actor="t")
        licenses.add(
            store,
            "D-REPLICA",
            recipient_id="r-in",
            models=[REPO],
            destinations=["IN"],
            valid_until=date.today() + timedelta(days=30),
            max_transfers=K,
            actor="officer",
        )
        models.classify(
            store,
            REPO,
            actor="officer",
            reason="closed frontier model",
            published=False,
            compute=ComputeInterval.exactly(3e26),
        )
    finally:
        store.close()
    env = {
        **os.environ,
        "GATE_DATA_DIR": str(data),
        "GATE_KEY_PASSPHRASE": PASSPHRASE,
        "GATE_DATABASE_URL": database_url,
    }
    gate_cmd = str(Path(sys.executable).with_name("gate"))
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [gate_cmd, "serve", "--store", str(tmp_path / "hub"), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url, proc in zip(urls, procs, strict=True):
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("gate serve did not start")
                time.sleep(0.2)
        yield urls, token
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


@pytest.mark.slow
def test_replicas_keep_the_cap_and_one_classification(
    replicas: tuple[list[str], str], database_url: str
) -> None:
    urls, token = replicas
    start = threading.Barrier(N)
    results: dict[str, httpx.Response] = {}

    def fetch(i: int) -> None:
        url = f"{urls[i % 2]}/{REPO}/resolve/main/{SHARDS[i]}"
        start.wait()
        with httpx.Client(timeout=60) as client:
            results[SHARDS[i]] = client.get(url, headers={"Authorization": f"Bearer {token}"})

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200] * K + [403] * (N - K), codes  # no 503: first sights did not collide
    for response in results.values():
        if response.status_code == 403:
            assert "License D-REPLICA is exhausted" in response.headers["x-error-message"]
    verifier = open_store(database_url, checkpoints=CheckpointPolicy(every=10**6, minutes=1e6))
    try:
        assert licenses.get(verifier, "D-REPLICA").transfers == K
        with verifier.read() as conn:
            rows = conn.execute(text("SELECT COUNT(*) FROM model_records")).scalar_one()
        assert rows == 1
        assert verify_chain(verifier).ok
    finally:
        verifier.close()
