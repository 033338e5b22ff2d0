"""`gate serve` without `--workers`: one worker per core, /metrics added up over all workers,
and one JSON log line per decided request (no uvicorn access lines, whatever the worker count).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gate.demo.scenario import DEMO_PASSPHRASE, build_world, seed_records
from gate.server.serve import build_gate
from gate.server.settings import ServeSettings, default_workers

FRONTIER = "acme/frontier-x"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_default_worker_count_is_the_cores_available() -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_workers() == max(1, min(cores, 8))
    assert ServeSettings(store=Path("/x")).worker_count() == default_workers()
    assert ServeSettings(store=Path("/x"), workers=3).worker_count() == 3


def _decisions(url: str) -> int:
    with httpx.Client() as client:  # a new connection: any worker may answer
        text = client.get(f"{url}/metrics").text
    return sum(int(n) for n in re.findall(r"^gate_decisions_total\{[^}]*\} (\d+)$", text, re.M))


@pytest.mark.parametrize("workers", [None, 2])
def test_metrics_add_up_over_workers_and_requests_log_once(
    tmp_path: Path, workers: int | None
) -> None:
    world = build_world(tmp_path / "world")
    gate = build_gate(world.settings)
    seed_records(world, gate.store)
    gate.close()
    port = _free_port()
    env = {
        **os.environ,
        "GATE_DATA_DIR": str(world.workdir),
        "GATE_KEY_PASSPHRASE": DEMO_PASSPHRASE,
        "GATE_TRUSTED_DECLARER_KEYS": json.dumps(
            [str(p) for p in world.settings.trusted_declarer_keys]
        ),
        "GATE_LOG_LEVEL": "INFO",
    }
    env.pop("GATE_DATABASE_URL", None)
    cmd = [str(Path(sys.executable).with_name("gate")), "serve", "--store"]
    cmd += [str(world.store_dir), "--port", str(port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    log = tmp_path / "serve.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()
            time.sleep(0.2)
        requests = 30
        for _ in range(requests):  # fresh connections, spread over the workers
            with httpx.Client() as client:
                response = client.head(
                    f"{url}/{FRONTIER}/resolve/main/config.json",
                    headers={"Authorization": f"Bearer {world.tokens['nordic']}"},
                )
            assert response.status_code == 200
        # Each worker leaves its counters once a second; every worker's answer adds them all.
        deadline = time.monotonic() + 20
        seen: list[int] = []
        while time.monotonic() < deadline:
            seen = [_decisions(url) for _ in range(6)]
            if set(seen) == {requests}:
                break
            time.sleep(0.5)
        assert set(seen) == {requests}, seen
    finally:
        process.terminate()
        process.wait(timeout=20)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert not [line for line in lines if line.get("logger") == "uvicorn.access"]
    resolves = [line for line in lines if line.get("msg") == "resolve"]
    assert len(resolves) == requests
