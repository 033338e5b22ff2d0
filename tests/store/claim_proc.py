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

from gate.core.decide import decide
from gate.rules.loader import load_default_ruleset
from gate.store.db import open_store
from gate.store.facts import build_request
from gate.store.record import RequestMeta, record_transfer
from tests.store.test_decision_records import CONTROLLED, DAY


def main() -> None:
    url, file, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = open_store(url)
    ruleset = load_default_ruleset()
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    request = build_request(
        store,
        recipient="acme",
        repo_id=CONTROLLED.repo_id,
        commit=CONTROLLED.commit,
        revision="main",
        file=file,
        destination=None,
        day=DAY,
        model_facts=CONTROLLED,
    )
    meta = RequestMeta(
        recipient_id="acme", repo_id=CONTROLLED.repo_id, commit=CONTROLLED.commit, file=file
    )
    decision, _entry = record_transfer(
        store,
        request,
        decide(request, ruleset),
        meta,
        counted=True,
        redecide=lambda r: decide(r, ruleset),
    )
    print(decision.verdict.value, decision.basis.value, flush=True)
    if decision.reasons:
        print(decision.reasons[0].text, flush=True)
    store.close()


if __name__ == "__main__":
    main()
