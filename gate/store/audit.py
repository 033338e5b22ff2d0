"""The audit chain: an append-only, hash-linked log of every decision and every step around it.

Entry `seq` (1, 2, ...) stores `body`, the canonical JSON of its payload, and
`hash = sha256(canonical_json({"payload": payload, "prev_hash": <hash of seq-1>, "seq": seq}))`.
Because canonical JSON sorts keys, those bytes are exactly
`{"payload":` + body + `,"prev_hash":"` + prev_hash + `","seq":` + seq + `}`, so `verify_chain`
recomputes every hash from the stored bytes without parsing JSON (1M entries in seconds) and any
tool with a canonical JSON encoder can do the same.

Writers serialise on the single `audit_head` row (row lock on PostgreSQL, BEGIN IMMEDIATE on
SQLite). `seq` is the primary key, and since an entry's hash covers its seq, two entries linking
to the same predecessor would need the same seq: even a writer that bypassed the lock could not
fork the chain, its insert would fail. Every N entries or M minutes the entry hash
is signed into `audit_checkpoints` with the gate's key, so rewriting the chain (recomputing every
hash after an edit) is caught at the next checkpoint, and deleting its tail is caught by the head.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, select, update

from gate.core.canonical import canonical_json
from gate.errors import NotFoundError
from gate.store.db import Store
from gate.store.group_commit import GroupCommitter
from gate.store.schema import audit_entries, audit_head

if TYPE_CHECKING:
    from gate.store.verify import VerifyResult

GENESIS = "0" * 64
CHECKPOINT_TYPE = "weight-gate/audit-checkpoint/v1"


def entry_hash(body: bytes, prev_hash: str, seq: int) -> str:
    """The chain hash of one entry, from its stored canonical body bytes."""
    h = hashlib.sha256(b'{"payload":')
    h.update(body)
    h.update(b',"prev_hash":"' + prev_hash.encode("ascii") + b'","seq":' + str(seq).encode() + b"}")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One appended entry. `inquiry_id` is set when recording a hold opened or reused one."""

    seq: int
    hash: str
    prev_hash: str
    recorded_at: datetime
    kind: str
    ref: str | None
    payload: Mapping[str, Any]
    inquiry_id: str | None = None


def append(
    conn: Connection,
    store: Store,
    kind: str,
    payload: Mapping[str, Any],
    *,
    ref: str | None = None,
    recipient_id: str | None = None,
    repo_id: str | None = None,
    license_used: str | None = None,
    verdict: str | None = None,
    allowed: bool | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's write transaction (so it commits with the change).

    `payload` is recorded as given plus `kind` and `recorded_at`; the columns after it are
    lookup copies of payload fields.
    """
    now = store.now()
    full = {**payload, "kind": kind, "recorded_at": now.isoformat()}
    body = canonical_json(full)
    # The hot path talks to the driver directly: SQLAlchemy's statement compilation and result
    # processing cost more than the database work itself here (5,000+ appends/s is the target).
    # It runs on the caller's connection, inside the caller's transaction.
    return append_raw(
        conn.connection.driver_connection,
        store,
        kind,
        full,
        body,
        now,
        (ref, recipient_id, repo_id, license_used, verdict, allowed),
    )


def append_now(
    store: Store,
    kind: str,
    payload: Mapping[str, Any],
    *,
    ref: str | None = None,
    recipient_id: str | None = None,
    repo_id: str | None = None,
    license_used: str | None = None,
    verdict: str | None = None,
    allowed: bool | None = None,
) -> AuditEntry:
    """Append one committed entry (fast path, group commit); StoreError when it fails.

    Concurrent callers in one process may share a transaction (see `gate.store.group_commit`);
    each returns only once its entry is committed.
    """
    now = store.now()
    full = {**payload, "kind": kind, "recorded_at": now.isoformat()}
    body = canonical_json(full)
    columns = (ref, recipient_id, repo_id, license_used, verdict, allowed)
    entry: AuditEntry = _committer(store).submit(kind, full, body, now, columns)
    return entry


_committers: weakref.WeakKeyDictionary[Store, GroupCommitter] = weakref.WeakKeyDictionary()
_committers_lock = threading.Lock()


def _committer(store: Store) -> GroupCommitter:
    with _committers_lock:
        committer = _committers.get(store)
        if committer is None:
            committer = _committers[store] = GroupCommitter(store)
        return committer


def append_raw(
    driver: Any,
    store: Store,
    kind: str,
    full: Mapping[str, Any],
    body: bytes,
    now: datetime,
    columns: tuple[str | None, str | None, str | None, str | None, str | None, bool | None],
) -> AuditEntry:
    """`append` on a bare DB-API connection inside its open transaction (see `Store.raw_write`)."""
    ref, recipient_id, repo_id, license_used, verdict, allowed = columns
    pg = store.dialect == "postgresql"
    mark = "%s" if pg else "?"
    stamp: Any = now if pg else _sqlite_stamp(now)
    cur: Any = driver.cursor()
    try:
        cur.execute(_HEAD_SQL_PG if pg else _HEAD_SQL)
        head_seq, prev, checkpoint_seq, checkpoint_at = cur.fetchone()
        seq = int(head_seq) + 1
        digest = entry_hash(body, prev, seq)
        cur.execute(
            _INSERT_SQL.replace("?", mark),
            (
                seq,
                prev,
                digest,
                body.decode("utf-8"),
                stamp,
                kind,
                ref,
                recipient_id,
                repo_id,
                license_used,
                verdict,
                allowed,
            ),
        )
        policy = store.checkpoints
        if store.signer is not None and (
            seq - int(checkpoint_seq) >= policy.every
            or now - _aware(checkpoint_at) >= timedelta(minutes=policy.minutes)
        ):
            _checkpoint(cur, store, seq, digest, now)
            cur.execute(_HEAD_CP_SQL.replace("?", mark), (seq, digest, seq, stamp))
        else:
            cur.execute(_HEAD_SQL_SET.replace("?", mark), (seq, digest))
    finally:
        cur.close()
    return AuditEntry(seq, digest, prev, now, kind, ref, full)


_HEAD_SQL = "SELECT seq, hash, checkpoint_seq, checkpoint_at FROM audit_head WHERE id = 1"
_HEAD_SQL_PG = _HEAD_SQL + " FOR UPDATE"
_INSERT_SQL = (
    "INSERT INTO audit_entries (seq, prev_hash, hash, body, recorded_at, kind, ref, recipient_id,"
    " repo_id, license_used, verdict, allowed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_HEAD_SQL_SET = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
_HEAD_CP_SQL = (
    "UPDATE audit_head SET seq = ?, hash = ?, checkpoint_seq = ?, checkpoint_at = ? WHERE id = 1"
)


def _aware(value: datetime | str) -> datetime:
    """A head timestamp as read by the bare driver (SQLite gives text) as an aware UTC time."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sqlite_stamp(moment: datetime) -> str:
    """A timestamp as SQLAlchemy stores it in SQLite (naive UTC text), so both paths read alike."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def _checkpoint(cur: Any, store: Store, seq: int, digest: str, now: datetime) -> None:
    assert store.signer is not None
    payload = canonical_json(
        {
            "type": CHECKPOINT_TYPE,
            "seq": seq,
            "entry_hash": digest,
            "signed_at": now.isoformat(),
            "key_id": store.signer.key_id,
        }
    )
    signature = store.signer.sign(payload)
    pg = store.dialect == "postgresql"
    cur.execute(
        _CHECKPOINT_SQL.replace("?", "%s" if pg else "?"),
        (
            seq,
            digest,
            now if pg else _sqlite_stamp(now),
            store.signer.key_id,
            payload.decode("utf-8"),
            signature.hex(),
        ),
    )


_CHECKPOINT_SQL = (
    "INSERT INTO audit_checkpoints (seq, entry_hash, signed_at, key_id, payload, signature)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def checkpoint_now(store: Store) -> int | None:
    """Sign a checkpoint at the current head (e.g. on shutdown); None when the chain is empty."""
    if store.signer is None:
        return None
    with store.write() as conn:
        head = conn.execute(
            select(audit_head.c.seq, audit_head.c.hash, audit_head.c.checkpoint_seq)
            .where(audit_head.c.id == 1)
            .with_for_update()
        ).one()
        if head.seq == 0 or head.seq == head.checkpoint_seq:
            return None
        now = store.now()
        cur: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            _checkpoint(cur, store, int(head.seq), head.hash, now)
        finally:
            cur.close()
        conn.execute(
            update(audit_head)
            .where(audit_head.c.id == 1)
            .values(checkpoint_seq=head.seq, checkpoint_at=now)
        )
        return int(head.seq)


def get_entry(store: Store, key: str) -> AuditEntry:
    """An entry by sequence number or by the decision id it records; NotFoundError otherwise."""
    with store.read() as conn:
        query = select(audit_entries)
        if key.isdigit():
            query = query.where(audit_entries.c.seq == int(key))
        else:
            query = query.where(audit_entries.c.ref == key)
        row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no audit entry {key!r}")
    return _entry(row)


def _entry(row: Any) -> AuditEntry:
    payload = json.loads(row.body)
    return AuditEntry(
        int(row.seq),
        row.hash,
        row.prev_hash,
        row.recorded_at,
        row.kind,
        row.ref,
        payload,
        payload.get("inquiry_id"),
    )


def iter_entries(
    store: Store, *, since: datetime | None = None, kind: str | None = None
) -> Iterator[AuditEntry]:
    """Entries in chain order, optionally from a time on and of one kind, streamed in batches."""
    last = 0
    while True:
        with store.read() as conn:
            query = select(audit_entries).where(audit_entries.c.seq > last)
            if since is not None:
                query = query.where(audit_entries.c.recorded_at >= since)
            if kind is not None:
                query = query.where(audit_entries.c.kind == kind)
            rows = conn.execute(query.order_by(audit_entries.c.seq).limit(5000)).all()
        if not rows:
            return
        for row in rows:
            yield _entry(row)
        last = int(rows[-1].seq)


def verify_chain(
    store: Store, public_keys: Mapping[str, ec.EllipticCurvePublicKey] | None = None
) -> VerifyResult:
    """See `gate.store.verify.verify_chain` (kept here so callers find it beside `append`)."""
    from gate.store import verify

    return verify.verify_chain(store, public_keys)
