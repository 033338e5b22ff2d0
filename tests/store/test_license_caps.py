"""License caps are exact across processes (issue 11, item 2).

What counts is a transfer: the first decision that sends bytes of a parameter file beyond its
header, per (license, recipient, commit, file). N processes ask at once for N different files
under a cap of K: exactly min(N, K) are allowed under the license, on SQLite and PostgreSQL.
HEAD-like decisions (not counted) and resumes of a counted file do not use the cap; the refusal
of an exhausted cap says so and names the license.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from gate.core.decide import decide
from gate.core.ruleset import Ruleset
from gate.rules.loader import load_default_ruleset
from gate.store import audit, licenses, recipients
from gate.store.db import CheckpointPolicy, Store, open_store
from gate.store.facts import build_request
from gate.store.record import RequestMeta, record_transfer
from tests.store.test_decision_records import CONTROLLED, DAY

PROC = str(Path(__file__).with_name("claim_proc.py"))
ROOT = str(Path(__file__).parents[2])


def _setup(store: Store, cap: int) -> None:
    # Headquartered in an `other` country: a controlled model needs a license (no AIA).
    recipients.add(
        store, "acme", actor="t", name="Acme", headquarters="IN", parent="self", destinations=["IN"]
    )
    licenses.add(
        store,
        "D-777",
        recipient_id="acme",
        models=[CONTROLLED.repo_id.upper()],  # typed in another case: still the same model
        destinations=["IN"],
        valid_until=date(2027, 1, 1),
        max_transfers=cap,
        actor="officer",
    )


def _transfer(
    store: Store, ruleset: Ruleset, file: str, *, counted: bool = True
) -> tuple[str, str, str]:
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
    decision, entry = record_transfer(
        store,
        request,
        decide(request, ruleset),
        meta,
        counted=counted,
        redecide=lambda r: decide(r, ruleset),
    )
    assert entry.payload["decision"]["verdict"] == decision.verdict.value
    first = decision.reasons[0].text if decision.reasons else ""
    return decision.verdict.value, decision.basis.value, first


@pytest.mark.slow
@pytest.mark.parametrize(("n", "k"), [(8, 3), (4, 6)])
def test_concurrent_processes_get_exactly_min_n_k(
    store: Store, database_url: str, tmp_path: Path, n: int, k: int
) -> None:
    _setup(store, k)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [
        subprocess.Popen(
            [sys.executable, PROC, database_url, f"model-{i:05d}.safetensors", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(n)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(out.splitlines())
    licensed = [r for r in results if r[0] == "allow licensed"]
    refused = [r for r in results if r[0] != "allow licensed"]
    assert len(licensed) == min(n, k), results
    for lines in refused:
        assert lines[0] == "license_required license_required"
        assert "License D-777 is exhausted" in lines[1]
    assert licenses.get(store, "D-777").transfers == min(n, k)
    # The count rows agree with the entries that claimed them (the writers had no key, so
    # the checkpoint cadence is not what is checked here).
    verifier = open_store(database_url, checkpoints=CheckpointPolicy(every=10**9, minutes=1e6))
    try:
        assert audit.verify_chain(verifier).ok
    finally:
        verifier.close()


def test_resumes_heads_and_header_reads_do_not_use_the_cap(store: Store) -> None:
    ruleset = load_default_ruleset()
    _setup(store, 2)
    # HEAD / header-window reads: decided under the license, not counted.
    for _ in range(5):
        assert _transfer(store, ruleset, "a.safetensors", counted=False)[:2] == (
            "allow",
            "licensed",
        )
    assert licenses.get(store, "D-777").transfers == 0
    assert _transfer(store, ruleset, "a.safetensors")[:2] == ("allow", "licensed")
    # Resumed ranges of the counted file: still one transfer.
    for _ in range(3):
        assert _transfer(store, ruleset, "a.safetensors")[:2] == ("allow", "licensed")
    assert _transfer(store, ruleset, "b.safetensors")[:2] == ("allow", "licensed")
    assert licenses.get(store, "D-777").transfers == 2
    verdict, basis, reason = _transfer(store, ruleset, "c.safetensors")
    assert (verdict, basis) == ("license_required", "license_required")
    assert "License D-777 is exhausted" in reason
    # Even a HEAD of a new file says the cap is used up; counted files stay available.
    assert _transfer(store, ruleset, "c.safetensors", counted=False)[0] == "license_required"
    assert _transfer(store, ruleset, "b.safetensors")[:2] == ("allow", "licensed")
