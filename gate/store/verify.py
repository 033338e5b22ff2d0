"""Verifying the audit chain: recompute every hash, check linkage, checkpoints and the head.

Streams the entries with the driver's own cursor so a million entries verify in seconds; see
`gate.store.audit` for the hash construction this recomputes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, select

from gate.store.audit import CHECKPOINT_TYPE, GENESIS, entry_hash
from gate.store.db import Store
from gate.store.schema import audit_checkpoints, audit_head


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What `verify_chain` found. `first_broken` names the first entry that does not verify."""

    ok: bool
    entries: int
    checkpoints: int
    checkpoints_signature_checked: bool
    first_broken: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "checkpoint_signatures_checked": self.checkpoints_signature_checked,
            "first_broken": self.first_broken,
            "problem": self.problem,
        }


_BATCH = 20_000


def _rows(conn: Connection, dialect: str) -> Iterator[list[tuple[int, str, str, str]]]:
    """Stream (seq, prev_hash, hash, body) in seq order in batches, with the driver's own cursor.

    The DB-API cursor skips SQLAlchemy's per-row processing, which would dominate the cost of
    verifying a million entries; on PostgreSQL a named (server-side) cursor keeps memory flat.
    """
    sql = "SELECT seq, prev_hash, hash, body FROM audit_entries ORDER BY seq"
    raw: Any = conn.connection.driver_connection
    if dialect == "postgresql":
        cur = raw.cursor(name="gate_audit_verify")
        cur.itersize = _BATCH
    else:
        cur = raw.cursor()
    try:
        cur.execute(sql)
        while batch := cur.fetchmany(_BATCH):
            yield batch
    finally:
        cur.close()


def _check_checkpoint(
    row: Any, public_keys: Mapping[str, ec.EllipticCurvePublicKey] | None
) -> str | None:
    """Why a checkpoint row is bad, or None; its seq and hash are compared with the chain later."""
    try:
        payload = json.loads(row.payload)
    except ValueError:
        return f"checkpoint at entry {row.seq} has an unreadable payload"
    if (
        payload.get("type") != CHECKPOINT_TYPE
        or payload.get("seq") != row.seq
        or payload.get("entry_hash") != row.entry_hash
        or payload.get("key_id") != row.key_id
    ):
        return f"checkpoint at entry {row.seq} does not match what was signed"
    if public_keys is None:
        return None
    key = public_keys.get(row.key_id)
    if key is None:
        return f"checkpoint at entry {row.seq} is signed by an unknown key {row.key_id!r}"
    try:
        key.verify(bytes.fromhex(row.signature), row.payload.encode(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return f"checkpoint at entry {row.seq} has a signature that does not verify"
    return None


def verify_chain(
    store: Store, public_keys: Mapping[str, ec.EllipticCurvePublicKey] | None = None
) -> VerifyResult:
    """Recompute the whole chain; name the first entry that was edited, deleted, moved or inserted.

    With `public_keys` (key id -> P-256 public key) the checkpoint signatures are verified too;
    without, checkpoints are still compared with the chain but their signatures are not checked.
    """
    checked = public_keys is not None
    with store.read() as conn:
        checkpoints = conn.execute(
            select(audit_checkpoints).order_by(audit_checkpoints.c.seq)
        ).all()
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one()
        due: dict[int, str] = {}
        for cp in checkpoints:
            problem = _check_checkpoint(cp, public_keys)
            if problem is not None:
                return VerifyResult(False, 0, len(checkpoints), checked, int(cp.seq), problem)
            due[int(cp.seq)] = cp.entry_hash

        def broken(seq: int, problem: str, count: int) -> VerifyResult:
            return VerifyResult(False, count, len(checkpoints), checked, seq, problem)

        expected, last_hash, count = 1, GENESIS, 0
        for batch in _rows(conn, store.dialect):
            for seq, prev, digest, body in batch:
                if seq != expected:
                    return broken(expected, f"entry {expected} is missing (deleted)", count)
                if entry_hash(body.encode("utf-8"), prev, seq) != digest:
                    return broken(
                        seq, f"entry {seq} was altered: its contents do not match its hash", count
                    )
                if prev != last_hash:
                    return broken(
                        seq,
                        f"entry {seq} does not link to entry {seq - 1} (inserted, reordered, "
                        "or an earlier entry was rewritten)",
                        count,
                    )
                if seq in due and due.pop(seq) != digest:
                    return broken(
                        seq, f"entry {seq} does not match the signed checkpoint at it", count
                    )
                last_hash, expected, count = digest, expected + 1, count + 1
    last = expected - 1
    if due:
        seq = min(due)
        return broken(seq, f"entry {seq} is missing (deleted) but a checkpoint signed it", count)
    if int(head.seq) != last or (last and head.hash != last_hash):
        if int(head.seq) > last:
            return broken(
                last + 1, f"entries {last + 1} to {head.seq} are missing (deleted)", count
            )
        return broken(last, f"entry {last} does not match the chain head", count)
    return VerifyResult(True, count, len(checkpoints), checked)
