"""A separate writer process for the concurrency and crash tests.

    python writer_proc.py URL COUNT NAME      append COUNT entries (COUNT 0: forever), then exit

Prints "ready" once the store is open, and the sequence number of every committed entry, so the
crash test knows what was committed before it killed the process.
"""

from __future__ import annotations

import sys

from gate.store import audit
from gate.store.db import open_store


def main() -> None:
    url, count, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    store = open_store(url)
    print("ready", flush=True)
    i = 0
    while count == 0 or i < count:
        i += 1
        entry = audit.append_now(store, "test", {"writer": name, "i": i, "pad": "x" * 500})
        print(entry.seq, flush=True)
    store.close()


if __name__ == "__main__":
    main()
