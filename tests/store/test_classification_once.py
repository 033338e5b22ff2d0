"""A commit's classification is written once across replicas (issue 11, item 4).

Several processes see a new commit at the same moment and record their classification: one
record is kept, no process gets an error, and every process decides on the kept record.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from gate.core.values import ModelFacts
from gate.store import models
from gate.store.db import Store

PROC = str(Path(__file__).with_name("classify_proc.py"))
ROOT = str(Path(__file__).parents[2])


@pytest.mark.slow
def test_concurrent_first_sights_keep_one_record(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [
        subprocess.Popen(
            [sys.executable, PROC, database_url, f"replica-{i}", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(6)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    kept = set()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        kept.add(out.strip())
    assert len(kept) == 1  # every replica decided on the same record
    with store.read() as conn:
        rows = conn.execute(text("SELECT repo_id, facts FROM model_records")).all()
    assert len(rows) == 1 and rows[0].repo_id == "org/shared"
    assert kept == {models.get_classification(store, "ORG/shared", "c" * 40).publication_evidence}  # type: ignore[union-attr]


def test_a_second_classification_does_not_replace_the_first(store: Store) -> None:
    first = ModelFacts(repo_id="a/b", commit="d" * 40, publication_evidence="first")
    second = ModelFacts(repo_id="A/B", commit="d" * 40, publication_evidence="second")
    assert models.record_classification(store, first).publication_evidence == "first"
    kept = models.record_classification(store, second)
    assert kept.publication_evidence == "first"
    assert kept.repo_id == "A/B"  # the caller's spelling comes back
    models.reclassify(store, second)
    found = models.get_classification(store, "a/b", "d" * 40)
    assert found is not None and found.publication_evidence == "second"
