"""Officers and sessions in the records store (SQLite and PostgreSQL), the `gate officers`
command, and the console's pure parts: the sign-in limiter, CSV cells and the charts."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gate.cli.main import run
from gate.console import charts
from gate.console.auth import SignInLimiter
from gate.console.csvout import cell
from gate.console.decisions import DecisionRow
from gate.errors import InputError
from gate.store import audit, officers
from gate.store.db import open_store
from gate.store.schema import officers as officers_table

PASSWORD = "a long enough passphrase"


def test_officer_password_is_hashed_and_set_once(database_url: str) -> None:
    store = open_store(database_url)
    try:
        added = officers.add(store, "olivia", role="officer", password=PASSWORD, actor="admin")
        assert added.can_act
        with store.read() as conn:
            stored = conn.execute(officers_table.select()).one().password_hash
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        with pytest.raises(InputError, match="already exists"):
            officers.add(store, "olivia", role="viewer", password=PASSWORD, actor="admin")
        assert officers.authenticate(store, "olivia", PASSWORD) is not None
        assert officers.authenticate(store, "olivia", PASSWORD + "x") is None
        assert officers.authenticate(store, "nobody", PASSWORD) is None
        viewer = officers.add(store, "victor", role="viewer", password=PASSWORD, actor="admin")
        assert not viewer.can_act
        with pytest.raises(InputError):
            officers.add(store, "short", role="officer", password="short", actor="admin")
        with pytest.raises(InputError):
            officers.add(store, "x", role="root", password=PASSWORD, actor="admin")
        with pytest.raises(InputError):
            officers.add(store, "<script>", role="viewer", password=PASSWORD, actor="admin")
        entries = [e.payload for e in audit.iter_entries(store, kind="admin")]
        assert [e["officer"] for e in entries if e["action"] == "officer.add"] == [
            "olivia",
            "victor",
        ]
        assert all(PASSWORD not in json.dumps(e) for e in entries)
    finally:
        store.close()


def test_sessions_expire_and_end(database_url: str) -> None:
    now = [datetime(2026, 12, 1, 9, tzinfo=UTC)]
    store = open_store(database_url, clock=lambda: now[0])
    try:
        officer = officers.add(store, "olivia", role="officer", password=PASSWORD, actor="a")
        token = officers.start_session(store, officer, client="127.0.0.1")
        found = officers.session(store, token)
        assert found is not None and found.officer.name == "olivia" and len(found.csrf) >= 32
        assert officers.session(store, token + "x") is None
        now[0] += timedelta(hours=officers.SESSION_HOURS, seconds=1)
        assert officers.session(store, token) is None  # expired
        token = officers.start_session(store, officer)
        officers.end_session(store, token)
        assert officers.session(store, token) is None
    finally:
        store.close()


def test_gate_officers_add_reads_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        run(
            [
                "officers",
                "add",
                "olivia",
                "--role",
                "officer",
                "--password-stdin",
                "--db",
                url,
                "--by",
                "admin",
            ]
        )
        == 0
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        run(["officers", "add", "oscar", "--role", "officer", "--password-stdin", "--db", url]) == 2
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        run(["officers", "add", "olivia", "--role", "viewer", "--password-stdin", "--db", url]) == 2
    )
    assert run(["officers", "add", "x", "--role", "boss", "--password-stdin", "--db", url]) == 2
    capsys.readouterr()
    assert run(["officers", "list", "--json", "--db", url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(o["name"], o["role"], o["created_by"]) for o in listed] == [
        ("olivia", "officer", "admin")
    ]
    assert "password" not in json.dumps(listed)
    assert run(["officers", "disable", "olivia", "--reason", "left", "--db", url]) == 0
    store = open_store(url)
    try:
        assert officers.authenticate(store, "olivia", PASSWORD) is None
    finally:
        store.close()


def test_sign_in_limiter_counts_per_key_in_a_window() -> None:
    now = [0.0]
    limiter = SignInLimiter(limit=3, window=60, max_keys=100, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("ip:a", "name:o") == 0
        limiter.failed("ip:a", "name:o")
    assert limiter.retry_after("ip:a") > 0
    assert limiter.retry_after("ip:b", "name:o") > 0  # another address, same name
    assert limiter.retry_after("ip:b", "name:p") == 0
    now[0] = 61
    assert limiter.retry_after("ip:a", "name:o") == 0
    for i in range(500):
        limiter.failed(f"ip:{i}")
    assert len(limiter._failures) <= 100  # bounded memory whatever the keys


def test_csv_cells_cannot_become_formulas() -> None:
    assert cell("=1+1") == "'=1+1"
    assert cell("+x") == "'+x" and cell("-x") == "'-x" and cell("@x") == "'@x"
    assert cell("acme/frontier-x") == "acme/frontier-x"
    assert cell(None) == "" and cell(3) == "3"


def _row(day: date, verdict: str, repo: str, who: str) -> DecisionRow:
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return DecisionRow(
        1, "dec", moment, who, repo, "f", verdict, "b", ("r",), True, "enforce", None, {}
    )


def test_dashboard_counts_per_day_and_top_refusals() -> None:
    first = date(2026, 11, 1)
    rows = [
        _row(first, "allow", "m1", "r1"),
        _row(first, "deny", "m2", "r2"),
        _row(first + timedelta(days=2), "hold", "m2", "r1"),
        _row(first + timedelta(days=2), "deny", "m2", "r2"),
        _row(first - timedelta(days=1), "deny", "old", "old"),  # outside the period
    ]
    summary = charts.summarise(rows, first, first + timedelta(days=2))
    assert summary.total == 4
    assert summary.per_day[first] == {"allow": 1, "license_required": 0, "hold": 0, "deny": 1}
    assert sum(summary.per_day[first + timedelta(days=1)].values()) == 0
    assert summary.top_refused_models == [("m2", 3)]
    assert summary.top_refused_recipients == [("r2", 2), ("r1", 1)]
    svg = charts.bars_svg(summary)
    assert svg.count("<rect") == 4 and 'role="img"' in svg
    assert "<script" not in charts.hbars_svg([("<script>", 1)], "x")
