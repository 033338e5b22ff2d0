"""Several writer processes append to one chain without forking it; a killed writer loses nothing.

These run real processes against the real databases (SQLite file in WAL mode, PostgreSQL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.errors import StoreError
from gate.store import audit
from gate.store.db import CheckpointPolicy, Store, open_store

pytestmark = pytest.mark.slow

WRITER = str(Path(__file__).with_name("writer_proc.py"))


def _spawn(url: str, count: int, name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(
        [sys.executable, WRITER, url, str(count), name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def unsigned(make_store: Callable[..., Store]) -> Store:
    """The writers here have no key: verify without the checkpoint cadence (tested elsewhere)."""
    return make_store(checkpoints=CheckpointPolicy(every=10**9, minutes=10**6))


def test_parallel_writers_share_one_chain(database_url: str, unsigned: Store) -> None:
    store = unsigned
    writers, per_writer = 4, 150
    procs = [_spawn(database_url, per_writer, f"w{i}") for i in range(writers)]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    result = audit.verify_chain(store)
    assert result.ok, result.problem
    assert result.entries == writers * per_writer
    by_writer = Counter(e.payload["writer"] for e in audit.iter_entries(store))
    assert by_writer == {f"w{i}": per_writer for i in range(writers)}


def test_killed_writer_leaves_a_verifiable_chain_with_every_committed_entry(
    database_url: str, unsigned: Store
) -> None:
    store = unsigned
    proc = _spawn(database_url, 0, "victim")
    other = _spawn(database_url, 200, "survivor")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    committed: list[int] = []
    deadline = time.monotonic() + 60
    while len(committed) < 300 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip().isdigit():
            committed.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)  # mid-append, most likely inside a transaction
    proc.wait(timeout=30)
    other.communicate(timeout=120)
    assert other.returncode == 0
    assert len(committed) >= 300
    result = audit.verify_chain(store)
    assert result.ok, result.problem
    seqs = {e.seq for e in audit.iter_entries(store) if e.payload["writer"] == "victim"}
    assert set(committed) <= seqs  # every entry the victim saw committed is still there
    # The chain kept going after the kill: the survivor finished all of its appends.
    assert sum(1 for e in audit.iter_entries(store) if e.payload["writer"] == "survivor") == 200


def test_threads_in_one_process_share_commits_without_losing_entries(store: Store) -> None:
    """Group commit: 8 threads append at once; every entry lands once, in one intact chain."""
    results: list[list[int]] = [[] for _ in range(8)]

    def work(i: int) -> None:
        for j in range(60):
            results[i].append(audit.append_now(store, "test", {"writer": f"t{i}", "j": j}).seq)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    seqs = sorted(s for r in results for s in r)
    assert seqs == list(range(1, 8 * 60 + 1))
    result = audit.verify_chain(store)
    assert result.ok and result.entries == 480
    # Each thread's own entries are in the order it appended them.
    for i, own in enumerate(results):
        assert own == sorted(own), i


def test_a_failed_group_commit_reaches_every_waiter(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'gate.db'}")
    audit.append_now(store, "test", {"x": 0})
    store.close()
    readonly = open_store(f"sqlite:///file:{tmp_path / 'gate.db'}?mode=ro&uri=true")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            audit.append_now(readonly, "test", {"x": 1})
        except StoreError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(errors) == 6 and all("read-only" in str(e) for e in errors)
    readonly.close()
