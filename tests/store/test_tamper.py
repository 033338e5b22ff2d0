"""A database writer without the key tampers with a real records database (issue 11, item 3).

Each test builds a real database with the real code (recipients, a capped license, decisions
that count transfers, signed checkpoints every 5 entries), closes it, tampers with it in SQL as
an insider with write access would, and runs `gate audit verify` through the CLI with the gate's
key ring: exit 1 wherever docs/records.md says the tampering is detected. The few cases the doc
says are NOT detected without a saved checkpoint are asserted too, with and without one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from gate.cli.main import run
from gate.core.decide import decide
from gate.crypto.keys import KeyRing
from gate.rules.loader import load_default_ruleset
from gate.store import audit, licenses, recipients
from gate.store.chain import WITNESS_FILE, entry_hash
from gate.store.db import CheckpointPolicy, Store, open_store
from gate.store.facts import build_request
from gate.store.record import RequestMeta, record_transfer
from tests.store.test_decision_records import CONTROLLED, DAY

PASSPHRASE = "tamper-test-passphrase"


@dataclass
class Built:
    url: str
    data_dir: Path
    entries: int

    def store(self) -> Store:
        return open_store(self.url, checkpoints=CheckpointPolicy(every=5, minutes=60))

    def sql(self, statement: str, **params: object) -> None:
        store = self.store()
        try:
            with store.engine.begin() as conn:
                conn.execute(text(statement), params)
        finally:
            store.close()


@pytest.fixture
def built(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Built]:
    data_dir = tmp_path / "data"
    ring = KeyRing(data_dir / "keys")
    ring.init(PASSPHRASE)
    monkeypatch.setenv("GATE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)  # verify must not need the key
    monkeypatch.setenv("GATE_AUDIT_CHECKPOINT_EVERY", "5")
    monkeypatch.setenv("GATE_AUDIT_CHECKPOINT_MINUTES", "60")
    store = open_store(
        database_url,
        signer=ring.active_signer(PASSPHRASE),
        checkpoints=CheckpointPolicy(every=5, minutes=60, witness_dir=tmp_path / "witness"),
    )
    ruleset = load_default_ruleset()
    recipients.add(
        store, "acme", actor="t", name="Acme", headquarters="US", parent="self", destinations=["US"]
    )
    licenses.add(
        store,
        "D-CAP",
        recipient_id="acme",
        models=[CONTROLLED.repo_id],
        destinations=["US"],
        valid_until=date(2027, 1, 1),
        max_transfers=3,
        actor="officer",
    )
    for i in range(18):
        file = f"model-{i % 4}.safetensors"
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
        record_transfer(
            store,
            request,
            decide(request, ruleset),
            meta,
            counted=True,
            redecide=lambda r: decide(r, ruleset),
        )
    audit.checkpoint_now(store)  # at shutdown
    entries = audit.verify_chain(store, KeyRing(data_dir / "keys").public_keys()).entries
    store.close()
    yield Built(database_url, data_dir, entries)


def _verify(capsys: pytest.CaptureFixture[str], built: Built, *extra: str) -> tuple[int, str]:
    code = run(["audit", "verify", "--db", built.url, *extra])
    out, err = capsys.readouterr()
    return code, out + err


def _save_checkpoint(capsys: pytest.CaptureFixture[str], built: Built, path: Path) -> None:
    assert run(["audit", "checkpoint", "--db", built.url, "--out", str(path)]) == 0
    capsys.readouterr()


def test_the_untouched_database_verifies(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    code, out = _verify(capsys, built)
    assert code == 0, out
    assert "signatures verified" in out
    # The cap of three was used by three distinct files and then refused the fourth.
    store = built.store()
    try:
        assert licenses.get(store, "D-CAP").transfers == 3
    finally:
        store.close()


def test_edited_entry(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    built.sql("UPDATE audit_entries SET body = replace(body, 'Acme', 'Evil') WHERE seq = 3")
    code, out = _verify(capsys, built)
    assert code == 1 and "entry 3 was altered" in out


def test_deleted_entry(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    built.sql("DELETE FROM audit_entries WHERE seq = 7")
    code, out = _verify(capsys, built)
    assert code == 1 and "entry 7 is missing" in out


def test_reordered_entries(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    built.sql("UPDATE audit_entries SET seq = -1 WHERE seq = 8")
    built.sql("UPDATE audit_entries SET seq = 8 WHERE seq = 9")
    built.sql("UPDATE audit_entries SET seq = 9 WHERE seq = -1")
    code, out = _verify(capsys, built)
    assert code == 1 and "BROKEN at entry 8" in out


def _rewrite_from(built: Built, start: int, *, drop_checkpoints: bool = True) -> None:
    """Edit entry `start`, recompute every hash after it, fix the head, delete checkpoints."""
    store = built.store()
    try:
        with store.engine.begin() as conn:
            rows = conn.execute(
                text("SELECT seq, prev_hash, body FROM audit_entries WHERE seq >= :s ORDER BY seq"),
                {"s": start},
            ).all()
            prev = rows[0].prev_hash
            for row in rows:
                body = row.body[:-1] + ',"zz_forged":1}' if row.seq == start else row.body
                digest = entry_hash(body.encode(), prev, int(row.seq))
                conn.execute(
                    text(
                        "UPDATE audit_entries SET body = :b, prev_hash = :p, hash = :h"
                        " WHERE seq = :s"
                    ),
                    {"b": body, "p": prev, "h": digest, "s": row.seq},
                )
                prev = digest
            conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})
            if drop_checkpoints:
                conn.execute(text("DELETE FROM audit_checkpoints WHERE seq >= :s"), {"s": start})
    finally:
        store.close()


def test_recomputed_chain_is_caught_by_the_signed_checkpoint(
    capsys: pytest.CaptureFixture[str], built: Built
) -> None:
    _rewrite_from(built, 2, drop_checkpoints=False)
    code, out = _verify(capsys, built)
    assert code == 1 and "does not match the signed checkpoint" in out


def test_recomputed_chain_with_checkpoints_deleted_is_a_missing_checkpoint(
    capsys: pytest.CaptureFixture[str], built: Built
) -> None:
    _rewrite_from(built, 2)
    code, out = _verify(capsys, built)
    assert code == 1 and "a checkpoint is missing" in out


def test_short_rewrite_after_the_last_checkpoint_needs_a_saved_checkpoint(
    capsys: pytest.CaptureFixture[str], built: Built, tmp_path: Path
) -> None:
    """The documented limit: rewriting fewer than N recent entries and deleting their
    checkpoint passes `verify` alone; the auditor's saved checkpoint catches it."""
    saved = tmp_path / "auditor.json"
    _save_checkpoint(capsys, built, saved)
    _rewrite_from(built, built.entries - 2)
    code, out = _verify(capsys, built)
    assert code == 0, out
    code, out = _verify(capsys, built, "--checkpoint", str(saved))
    assert code == 1 and "saved checkpoint" in out
    # The witness directory got every checkpoint as it was made: it catches it too.
    witness = tmp_path / "witness" / WITNESS_FILE
    code, out = _verify(capsys, built, "--checkpoint", str(witness))
    assert code == 1 and "saved checkpoint" in out


def test_truncated_tail(capsys: pytest.CaptureFixture[str], built: Built, tmp_path: Path) -> None:
    saved = tmp_path / "auditor.json"
    _save_checkpoint(capsys, built, saved)
    last = built.entries
    built.sql("DELETE FROM audit_entries WHERE seq > :s", s=last - 3)
    code, out = _verify(capsys, built)
    assert code == 1 and "missing" in out
    # Fixing the head and deleting the checkpoints of the tail leaves a shorter valid chain:
    # only a checkpoint kept outside the database proves entries were cut off.
    store = built.store()
    try:
        with store.engine.begin() as conn:
            row = conn.execute(
                text("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
            ).one()
            conn.execute(text("DELETE FROM audit_checkpoints WHERE seq > :s"), {"s": row.seq})
            conn.execute(
                text("UPDATE audit_head SET seq = :s, hash = :h, checkpoint_seq = 0 WHERE id = 1"),
                {"s": row.seq, "h": row.hash},
            )
    finally:
        store.close()
    code, out = _verify(capsys, built, "--checkpoint", str(saved))
    assert code == 1 and "cut off the tail" in out


def test_deleted_middle_checkpoint(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    built.sql(
        "DELETE FROM audit_checkpoints WHERE seq = (SELECT MIN(seq) FROM audit_checkpoints"
        " WHERE seq > 6)"
    )
    code, out = _verify(capsys, built)
    assert code == 1 and "a checkpoint is missing" in out


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("verdict", "'deny'"),
        ("license_used", "NULL"),
        ("recipient_id", "'someone-else'"),
        ("repo_id", "'other/model'"),
        ("allowed", "NULL"),
        ("kind", "'admin'"),
        ("ref", "'dec_forged'"),
    ],
)
def test_edited_lookup_column(
    capsys: pytest.CaptureFixture[str], built: Built, column: str, value: str
) -> None:
    built.sql(
        f"UPDATE audit_entries SET {column} = {value} WHERE seq = (SELECT MAX(seq) FROM"
        " audit_entries WHERE license_used IS NOT NULL)"
    )
    code, out = _verify(capsys, built)
    assert code == 1 and f"its {column} column does not match its body" in out


def test_moved_recorded_at_column(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    store = built.store()
    try:
        with store.engine.begin() as conn:
            moment = datetime(2020, 1, 1, tzinfo=UTC)
            stamp: object = moment if store.dialect == "postgresql" else "2020-01-01 00:00:00"
            conn.execute(
                text("UPDATE audit_entries SET recorded_at = :t WHERE seq = 4"), {"t": stamp}
            )
    finally:
        store.close()
    code, out = _verify(capsys, built)
    assert code == 1 and "recorded_at column does not match" in out


def test_reset_license_cap(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    """Deleting the count rows would give the recipient three more transfers: detected."""
    built.sql("DELETE FROM license_transfers")
    code, out = _verify(capsys, built)
    assert code == 1 and "count row is missing" in out


def test_forged_license_count_row(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    built.sql(
        "UPDATE license_transfers SET file = 'other.safetensors' WHERE file = 'model-0.safetensors'"
    )
    code, out = _verify(capsys, built)
    assert code == 1 and "license D-CAP" in out


def test_tampered_saved_checkpoint_file_is_refused(
    capsys: pytest.CaptureFixture[str], built: Built, tmp_path: Path
) -> None:
    saved = tmp_path / "auditor.json"
    _save_checkpoint(capsys, built, saved)
    record = json.loads(saved.read_text())
    payload = json.loads(record["payload"])
    payload["seq"] = 1
    record["payload"] = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    saved.write_text(json.dumps(record))
    code, out = _verify(capsys, built, "--checkpoint", str(saved))
    assert code == 1 and "signature that does not verify" in out


def test_entries_left_without_a_checkpoint_for_too_long(make_store: object) -> None:
    """Appends made without the key (no checkpoints) are a missing checkpoint once they span
    more than the cadence, and a tail older than the cadence is one too."""
    base = datetime.now(UTC)
    now = [base]
    factory = make_store  # type: ignore[assignment]
    store: Store = factory(  # type: ignore[operator]
        checkpoints=CheckpointPolicy(every=1000, minutes=10), clock=lambda: now[0]
    )
    audit.append_now(store, "test", {"n": 1})
    now[0] = base + timedelta(minutes=5)
    assert audit.verify_chain(store).ok
    now[0] = base + timedelta(minutes=11)
    result = audit.verify_chain(store)
    assert not result.ok and "waited more than 10 minutes" in str(result.problem)
    audit.append_now(store, "test", {"n": 2})
    result = audit.verify_chain(store)
    assert not result.ok and "a checkpoint is missing" in str(result.problem)


def test_an_unwritable_witness_fails_the_append_closed(
    make_store: object, signer: object, tmp_path: Path
) -> None:
    """A configured witness that cannot be written is a failed append (no transfer), not a
    silently missing copy."""
    from gate.errors import StoreError

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the witness directory should be")
    factory = make_store  # type: ignore[assignment]
    store: Store = factory(  # type: ignore[operator]
        signer=signer, checkpoints=CheckpointPolicy(every=1, minutes=60, witness_dir=blocker)
    )
    with pytest.raises(StoreError, match="witness"):
        audit.append_now(store, "test", {"n": 1})
