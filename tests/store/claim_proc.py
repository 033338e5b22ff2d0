"""A separate process asking for one transfer under a capped license (the cap race test).

    python claim_proc.py URL FILE GO_PATH

Opens the store, prints "ready", waits until GO_PATH exists, decides and records one counted
transfer of FILE for recipient "acme", and prints the verdict and basis of the decision that
stands.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gate.rules.loader import load_default_ruleset
from gate.store.db import open_store
from tests.store.test_license_caps import _transfer


def main() -> None:
    url, file, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = open_store(url)
    ruleset = load_default_ruleset()
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    verdict, basis, first_reason = _transfer(store, ruleset, file)
    print(verdict, basis, flush=True)
    if first_reason:
        print(first_reason, flush=True)
    store.close()


if __name__ == "__main__":
    main()
