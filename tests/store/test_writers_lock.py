"""Writers of several processes on one SQLite file take turns on a file lock beside it, so a
waiting writer is woken when the lock is released instead of sleeping in SQLite's busy handler.

A writer stuck in another process (a stopped `gate` command, a hung disk) must not keep this
process's decisions waiting without end: after the wait SQLite's busy timeout would allow, the
write fails with a message naming the problem (503 to a client, a clear line to an operator),
and once the other writer lets go, writes succeed again.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from gate.errors import StoreError
from gate.store import audit, recipients
from gate.store.db import open_store

ROOT = str(Path(__file__).parents[2])

HOLDER = """
import sys, time
from gate.store.writers_lock import WritersLock
lock = WritersLock(sys.argv[1])
with lock.held():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_write_waits_for_another_process_holding_the_writers_lock(tmp_path: Path) -> None:
    database = tmp_path / "gate.db"
    store = open_store(f"sqlite:///{database}")
    try:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(database), "1.0"], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done: list[float] = []
        began = time.monotonic()

        def append() -> None:
            audit.append_now(store, "test", {"n": 1})
            done.append(time.monotonic() - began)

        writer = threading.Thread(target=append)
        writer.start()
        time.sleep(0.3)
        assert not done, "the write went ahead while another process held the lock"
        holder.wait(timeout=10)
        writer.join(timeout=10)
        assert done and done[0] >= 0.3
        assert (tmp_path / "gate.db-writers.lock").exists()
        assert audit.verify_chain(store).ok
    finally:
        store.close()


_HOLDER = """
import sys
from gate.store.db import open_store
store = open_store(sys.argv[1])
with store.write():
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_a_writer_stuck_in_another_process_fails_writes_after_the_wait(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    store = open_store(url)
    assert store._writers is not None
    store._writers.wait = 1.0  # the default is SQLite's 30 s
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": ROOT},
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "holding"
        got: list[BaseException] = []

        def write() -> None:
            try:
                recipients.add(store, "a", actor="t", name="A")
            except StoreError as exc:
                got.append(exc)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(60)  # a bound for the test only: without one, the write waited for good
        assert not writer.is_alive(), "the write is still waiting for the other process"
        assert len(got) == 1 and "locked by another writer for too long" in str(got[0])
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
    recipients.add(store, "a", actor="t", name="A")
    assert recipients.get(store, "a").name == "A"
    store.close()
