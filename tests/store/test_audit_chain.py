"""The audit chain: hashes, linkage, checkpoints, and verify naming the first broken entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from gate.core.canonical import canonical_json, canonical_sha256
from gate.errors import NotFoundError
from gate.store import audit
from gate.store.db import CheckpointPolicy, Store
from tests.store.conftest import P256Signer


def _fill(store: Store, n: int) -> list[audit.AuditEntry]:
    return [
        audit.append_now(store, "test", {"n": i, "text": f"entry {i} é"}, ref=f"ref{i}")
        for i in range(1, n + 1)
    ]


def test_entry_hash_is_sha256_of_canonical_json_of_the_entry(store: Store) -> None:
    entries = _fill(store, 3)
    for entry in entries:
        body = {"payload": dict(entry.payload), "prev_hash": entry.prev_hash, "seq": entry.seq}
        assert entry.hash == canonical_sha256(body)
    assert entries[0].prev_hash == "0" * 64
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]


def test_intact_chain_verifies_with_signed_checkpoints(store: Store, signer: P256Signer) -> None:
    _fill(store, 12)
    result = audit.verify_chain(store, signer.public_keys)
    assert result.ok, result.problem
    assert result.entries == 12
    assert result.checkpoints == 2  # every 5 entries: at 5 and 10
    assert result.checkpoints_signature_checked


def test_empty_chain_verifies(store: Store) -> None:
    assert audit.verify_chain(store).ok


def _exec(store: Store, sql: str, **params: object) -> None:
    with store.write() as conn:
        conn.execute(text(sql), params)


def test_edited_entry_is_named(store: Store) -> None:
    _fill(store, 8)
    with store.read() as conn:
        body = conn.execute(text("SELECT body FROM audit_entries WHERE seq = 4")).scalar_one()
    _exec(store, "UPDATE audit_entries SET body = :b WHERE seq = 4", b=body.replace("4", "5"))
    result = audit.verify_chain(store)
    assert not result.ok
    assert result.first_broken == 4
    assert "altered" in (result.problem or "")


def test_deleted_entry_is_named(store: Store) -> None:
    _fill(store, 8)
    _exec(store, "DELETE FROM audit_entries WHERE seq = 6")
    result = audit.verify_chain(store)
    assert (result.ok, result.first_broken) == (False, 6)
    assert "missing" in (result.problem or "")


def test_deleted_tail_is_caught_by_the_head(store: Store) -> None:
    _fill(store, 8)
    _exec(store, "DELETE FROM audit_entries WHERE seq >= 7")
    result = audit.verify_chain(store)
    assert (result.ok, result.first_broken) == (False, 7)


def test_reordered_entries_are_named(store: Store) -> None:
    _fill(store, 8)
    # Swap the contents of entries 3 and 4 (keeping the sequence numbers in place).
    with store.write() as conn:
        rows = {
            r.seq: r
            for r in conn.execute(
                text("SELECT seq, prev_hash, hash, body FROM audit_entries WHERE seq IN (3, 4)")
            )
        }
        conn.execute(text("DELETE FROM audit_entries WHERE seq IN (3, 4)"))
        for seq, src in ((3, rows[4]), (4, rows[3])):
            conn.execute(
                text(
                    "INSERT INTO audit_entries (seq, prev_hash, hash, body, recorded_at, kind)"
                    " VALUES (:seq, :prev, :hash, :body, CURRENT_TIMESTAMP, 'test')"
                ),
                {"seq": seq, "prev": src.prev_hash, "hash": src.hash, "body": src.body},
            )
    result = audit.verify_chain(store)
    assert (result.ok, result.first_broken) == (False, 3)


def test_inserted_entry_with_a_valid_hash_is_named(store: Store) -> None:
    """An attacker inserts a well-formed entry after 5 and renumbers the rest: 7 no longer links."""
    entries = _fill(store, 8)
    with store.write() as conn:
        for seq in range(8, 5, -1):
            conn.execute(
                text("UPDATE audit_entries SET seq = seq + 100 WHERE seq = :s"), {"s": seq}
            )
        for seq in range(8, 5, -1):
            conn.execute(
                text("UPDATE audit_entries SET seq = :n WHERE seq = :s"),
                {"s": seq + 100, "n": seq + 1},
            )
        body = canonical_json({"kind": "test", "n": 99, "recorded_at": "2026-01-01T00:00:00"})
        prev = entries[4].hash
        forged = audit.entry_hash(body, prev, 6)
        conn.execute(
            text(
                "INSERT INTO audit_entries (seq, prev_hash, hash, body, recorded_at, kind)"
                " VALUES (6, :prev, :hash, :body, CURRENT_TIMESTAMP, 'test')"
            ),
            {"prev": "f" * 64, "hash": forged, "body": body.decode()},
        )
    result = audit.verify_chain(store)
    assert not result.ok
    assert result.first_broken == 6


def test_rewritten_chain_is_caught_by_a_signed_checkpoint(store: Store, signer: P256Signer) -> None:
    """Edit entry 2 and recompute every later hash: only the signed checkpoint at 5 can tell."""
    _fill(store, 7)
    with store.write() as conn:
        rows = conn.execute(text("SELECT seq, body FROM audit_entries ORDER BY seq")).all()
        # Move every prev_hash aside first: the column is UNIQUE.
        conn.execute(text("UPDATE audit_entries SET prev_hash = 'tmp' || CAST(seq AS TEXT)"))
        prev = "0" * 64
        for seq, body in rows:
            if seq == 2:
                body = body.replace("entry 2", "entry X")
            digest = audit.entry_hash(body.encode(), prev, seq)
            conn.execute(
                text(
                    "UPDATE audit_entries SET body = :b, hash = :h, prev_hash = :p WHERE seq = :s"
                ),
                {"b": body, "h": digest, "p": prev, "s": seq},
            )
            prev = digest
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    result = audit.verify_chain(store, signer.public_keys)
    assert not result.ok
    assert result.first_broken == 5
    assert "checkpoint" in (result.problem or "")


def test_checkpoint_by_an_unknown_key_fails(store: Store) -> None:
    _fill(store, 5)
    other = P256Signer()
    result = audit.verify_chain(store, other.public_keys)
    assert not result.ok
    assert "unknown key" in (result.problem or "")


def test_forged_checkpoint_signature_fails(store: Store, signer: P256Signer) -> None:
    _fill(store, 5)
    _exec(store, "UPDATE audit_checkpoints SET signature = :s", s=P256Signer().sign(b"x").hex())
    result = audit.verify_chain(store, signer.public_keys)
    assert not result.ok and "does not verify" in (result.problem or "")


def test_get_entry_by_seq_and_ref(store: Store) -> None:
    _fill(store, 3)
    assert audit.get_entry(store, "2").payload["n"] == 2
    assert audit.get_entry(store, "ref3").seq == 3
    with pytest.raises(NotFoundError):
        audit.get_entry(store, "nope")


def test_iter_entries_streams_everything_in_order(store: Store) -> None:
    _fill(store, 12)
    assert [e.seq for e in audit.iter_entries(store)] == list(range(1, 13))
    assert [e.seq for e in audit.iter_entries(store, kind="nothing")] == []


def test_checkpoint_now_signs_the_head(store: Store, signer: P256Signer) -> None:
    _fill(store, 3)
    assert audit.checkpoint_now(store) == 3
    assert audit.checkpoint_now(store) is None  # nothing new since
    assert audit.verify_chain(store, signer.public_keys).checkpoints == 1


def test_checkpoint_after_minutes_without_enough_entries(
    make_store: Callable[..., Store], signer: P256Signer
) -> None:
    # The head's checkpoint clock starts when the store is created (real time).
    base = datetime.now(UTC) + timedelta(minutes=1)
    moments = iter(base + timedelta(minutes=m) for m in (0, 7, 14, 15))
    store = make_store(
        signer=signer,
        checkpoints=CheckpointPolicy(every=1000, minutes=10),
        clock=lambda: next(moments),
    )
    audit.append_now(store, "test", {"n": 1})  # 1 minute after creation: no checkpoint
    audit.append_now(store, "test", {"n": 2})  # 8 minutes: none yet
    audit.append_now(store, "test", {"n": 3})  # 15 minutes, only 3 entries: checkpoint
    with store.read() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_checkpoints"))]
    assert seqs == [3]
    assert audit.verify_chain(store, signer.public_keys).ok


def test_lookup_keys_from_clients_are_not_found_never_a_database_error(store: Store) -> None:
    for key in ("9" * 30, "1" * 19, "x" * 500, "dec_" + "f" * 200, "١٢٣"):
        with pytest.raises(NotFoundError):
            audit.get_entry(store, key)
