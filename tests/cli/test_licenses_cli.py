"""`gate licenses add|list|show` tell an operator which licenses still count, end to end
through `gate.cli.main.run` on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gate.cli.main import run
from gate.store import licenses
from gate.store.db import open_store


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)


def _add(
    capsys: pytest.CaptureFixture[str], db: tuple[str, str], number: str, *extra: str
) -> tuple[int, str, str]:
    return _run(
        capsys,
        "licenses",
        "add",
        number,
        "--recipient",
        "acme",
        "--model",
        "4E091",
        "--destination",
        "IN",
        *extra,
        *db,
    )


def test_list_shows_status_and_usage_against_cap(
    capsys: pytest.CaptureFixture[str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    db = ("--db", database_url)
    today = datetime.now(UTC).date()
    past, future = today - timedelta(days=3), today + timedelta(days=30)
    code, _, _ = _run(
        capsys,
        "recipients",
        "add",
        "acme",
        "--name",
        "Acme",
        "--hq",
        "IN",
        "--no-parent",
        "--destination",
        "IN",
        *db,
    )
    assert code == 0

    code, out, err = _add(capsys, db, "L-OLD", "--valid-until", past.isoformat())
    assert code == 0 and "L-OLD" in out  # still recorded
    assert "warning" in err and "expired" in err and past.isoformat() in err
    code, _, err = _add(capsys, db, "L-OK", "--valid-until", future.isoformat())
    assert code == 0 and err == ""
    code, _, err = _add(
        capsys,
        db,
        "L-LATER",
        "--valid-from",
        (today + timedelta(days=5)).isoformat(),
        "--valid-until",
        future.isoformat(),
    )
    assert code == 0 and err == ""
    code, _, _ = _add(
        capsys, db, "L-CAP", "--valid-until", future.isoformat(), "--max-transfers", "1"
    )
    assert code == 0
    store = open_store(database_url)
    with store.write() as conn:
        claim = licenses.claim_in(
            conn,
            store,
            "L-CAP",
            licenses.TransferKey("acme", "org/model", "a" * 40, "model.safetensors"),
            counted=True,
            decision_id="d1",
        )
    store.close()
    assert claim == ("claimed", 1)

    code, out, _ = _run(capsys, "licenses", "list", "--json", *db)
    assert code == 0
    listed = {r["number"]: r for r in json.loads(out)}
    assert {n: r["status"] for n, r in listed.items()} == {
        "L-OLD": "expired",
        "L-OK": "valid",
        "L-LATER": "not yet valid",
        "L-CAP": "used up",
    }
    assert (listed["L-CAP"]["transfers"], listed["L-CAP"]["max_transfers"]) == (1, 1)

    code, out, _ = _run(capsys, "licenses", "list", *db)
    assert code == 0
    lines = [" ".join(line.replace("\u2502", " ").split()) for line in out.splitlines()]
    rows = {line.split()[0]: line for line in lines if line.startswith("L-")}
    assert "expired" in rows["L-OLD"] and "not yet valid" in rows["L-LATER"]
    assert "used up" in rows["L-CAP"] and "1 of 1" in rows["L-CAP"]
    assert "valid" in rows["L-OK"] and "0 of unlimited" in rows["L-OK"]

    code, out, _ = _run(capsys, "licenses", "show", "L-OLD", *db)
    assert code == 0 and "expired" in out
    assert _run(capsys, "licenses", "revoke", "L-OK", "--reason", "ended", *db)[0] == 0
    code, out, _ = _run(capsys, "licenses", "show", "L-OK", "--json", *db)
    assert json.loads(out)["status"] == "revoked"
