"""`gate audit verify` reports progress on a terminal only: piped or --json output is unchanged."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from gate.cli.main import run
from gate.store import verify
from gate.store.db import open_store


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _five_entries(database_url: str) -> None:
    for n in range(5):
        args = ["recipients", "add", f"r{n}", "--name", f"R{n}", "--hq", "US", "--no-parent"]
        assert run([*args, "--destination", "US", "--db", database_url]) == 0


def test_progress_callback_and_quiet_output(
    capsys: pytest.CaptureFixture[str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _five_entries(database_url)
    capsys.readouterr()
    monkeypatch.setattr(verify, "PROGRESS_EVERY", 2)
    store = open_store(database_url)
    calls: list[tuple[int, int]] = []
    result = verify.verify_chain(store, progress=lambda done, total: calls.append((done, total)))
    store.close()
    assert result.ok and result.entries == 5
    assert calls == [(2, 5), (4, 5), (5, 5)]

    # Not a terminal (captured): one result line on stdout, nothing on stderr.
    assert run(["audit", "verify", "--db", database_url]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("intact: 5 entries") and out.count("\n") == 1
    assert err == ""
    assert run(["audit", "verify", "--json", "--db", database_url]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["entries"] == 5 and err == ""

    # A terminal on stderr: the bar goes there, stdout is the same line.
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run(["audit", "verify", "--db", database_url]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("intact: 5 entries") and out.count("\n") == 1
    assert "verifying the chain" in terminal.getvalue()

    # --json stays quiet even on a terminal.
    terminal.seek(0)
    terminal.truncate()
    assert run(["audit", "verify", "--json", "--db", database_url]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 5
    assert terminal.getvalue() == ""
