"""A separate process recording its classification of one commit (the first-sight race test).

    python classify_proc.py URL NAME GO_PATH

Prints "ready", waits for GO_PATH, records facts that name this process as their evidence, and
prints the evidence of the record that was kept (the same in every process).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gate.core.values import ComputeInterval, ModelFacts
from gate.store import models
from gate.store.db import open_store


def main() -> None:
    url, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = open_store(url)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    facts = ModelFacts(
        repo_id="Org/Shared",
        commit="c" * 40,
        published=False,
        publication_evidence=name,
        training_compute=ComputeInterval.exactly(1e20),
    )
    kept = models.record_classification(store, facts)
    print(kept.publication_evidence, flush=True)
    store.close()


if __name__ == "__main__":
    main()
