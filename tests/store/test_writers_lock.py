"""Writers of several processes on one SQLite file take turns on a file lock beside it, so a
waiting writer is woken when the lock is released instead of sleeping in SQLite's busy handler.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from gate.store import audit
from gate.store.db import open_store

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
