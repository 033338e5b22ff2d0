"""`gate models show` gives the recorded classification in its human table, not only in --json."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.cli.main import run
from gate.core.values import ComputeInterval, ModelFacts
from gate.store import models
from gate.store.db import open_store


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line


def test_show_table_has_interval_method_and_publication(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    store = open_store(database_url)
    models.record_classification(
        store,
        ModelFacts(
            repo_id="org/m",
            revision="main",
            commit="c" * 40,
            published=True,
            publication_evidence="paper arXiv:2401.00001",
            training_compute=ComputeInterval(low=1.2e24, high=3.4e25, method="parameters x tokens"),
        ),
    )
    store.close()
    assert run(["models", "show", "org/m", "--db", database_url]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "c" * 40 in line and ".." in line)
    assert "1.2e+24 .. 3.4e+25" in row
    assert "parameters x tokens" in row
    assert "yes" in row and "paper arXiv:2401.00001" in row
