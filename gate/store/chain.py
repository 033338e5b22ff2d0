"""The audit chain's one home: entry hash, append, and signed checkpoints.

Entry `seq` (1, 2, ...) stores `body`, the canonical JSON of its payload, and
`hash = sha256(canonical_json({"payload": payload, "prev_hash": <hash of seq-1>, "seq": seq}))`.
Because canonical JSON sorts keys, those bytes are exactly
`{"payload":` + body + `,"prev_hash":"` + prev_hash + `","seq":` + seq + `}`, so
`gate.store.verify` recomputes every hash from the stored bytes and any tool with a canonical JSON
encoder can do the same.

The lookup columns beside `body` (kind, ref, recipient, repo, license used, verdict, allowed,
recorded_at) are copies of fields of the body: the body carries them under `"lookup"`, and
`verify` checks every column against it, so a database writer cannot change a column unnoticed.

Writers serialise on the single `audit_head` row (row lock on PostgreSQL, BEGIN IMMEDIATE on
SQLite). `seq` is the primary key, and since an entry's hash covers its seq, two entries linking
to the same predecessor would need the same seq: the chain cannot fork. Checkpoints sign the head
with the gate's key after every `every` entries (in the append's own transaction), when an
append finds `minutes` passed since the last one, from the `Checkpointer` thread while entries
wait uncovered, and at shutdown (`checkpoint_now`); `verify` reports a run of entries left
without a checkpoint longer than that as a break.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from gate.core.canonical import canonical_json, canonical_object
from gate.errors import StoreError
from gate.store.db import Store
from gate.store.schema import audit_checkpoints, audit_entries, audit_head

GENESIS = "0" * 64
CHECKPOINT_TYPE = "weight-gate/audit-checkpoint/v1"
WITNESS_FILE = "audit-checkpoints.jsonl"
LOOKUP_KEYS = ("ref", "recipient_id", "repo_id", "license_used", "verdict", "allowed")

_log = logging.getLogger("gate.store.chain")

Columns = tuple[str | None, str | None, str | None, str | None, str | None, bool | None]


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


def _full(kind: str, payload: Mapping[str, Any], now: datetime, columns: Columns) -> dict[str, Any]:
    """The recorded payload: as given, plus kind, time and the lookup columns it vouches for."""
    lookup = dict(zip(LOOKUP_KEYS, columns, strict=True))
    return {**payload, "kind": kind, "recorded_at": now.isoformat(), "lookup": lookup}


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
    encoded: Mapping[str, bytes] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's write transaction (so it commits with the change).

    `payload` is recorded as given plus `kind`, `recorded_at` and `lookup` (the keyword
    arguments, which are also stored in lookup columns). `encoded`: canonical JSON of some of
    the payload's values, made before (`canonical_object`).
    """
    now = store.now()
    columns: Columns = (ref, recipient_id, repo_id, license_used, verdict, allowed)
    full = _full(kind, payload, now, columns)
    body = canonical_object(full, encoded) if encoded else canonical_json(full)
    # The hot path talks to the driver directly: SQLAlchemy's statement compilation and result
    # processing cost more than the database work itself here (5,000+ appends/s is the target).
    driver = conn.connection.driver_connection
    return append_raw(driver, store, kind, full, body, now, columns)


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

    Concurrent callers in one process may share a transaction (`store.committer`); each
    returns only once its entry is committed.
    """
    now = store.now()
    columns: Columns = (ref, recipient_id, repo_id, license_used, verdict, allowed)
    full = _full(kind, payload, now, columns)
    body = canonical_json(full)

    def work(conn: Connection) -> AuditEntry:
        driver = conn.connection.driver_connection
        return append_raw(driver, store, kind, full, body, now, columns)

    entry: AuditEntry = store.committer.submit(work)
    return entry


def append_raw(
    driver: Any,
    store: Store,
    kind: str,
    full: Mapping[str, Any],
    body: bytes,
    now: datetime,
    columns: Columns,
) -> AuditEntry:
    """`append` on a bare DB-API connection inside its open transaction."""
    ref = columns[0]
    pg = store.dialect == "postgresql"
    mark = "%s" if pg else "?"
    stamp: Any = now if pg else sqlite_stamp(now)
    cur: Any = driver.cursor()
    try:
        head_seq, prev, checkpoint_seq, checkpoint_at = _locked_head(cur, store)
        seq = int(head_seq) + 1
        digest = entry_hash(body, prev, seq)
        cur.execute(
            _INSERT_SQL.replace("?", mark),
            (seq, prev, digest, body.decode("utf-8"), stamp, kind, *columns),
        )
        policy = store.checkpoints
        if store.signer is not None and (
            seq - int(checkpoint_seq) >= policy.every
            or now - aware(checkpoint_at) >= timedelta(minutes=policy.minutes)
        ):
            _sign_checkpoint(cur, store, seq, digest, now)
            cur.execute(_HEAD_CP_SQL.replace("?", mark), (seq, digest, seq, stamp))
            checkpoint_seq, checkpoint_at = seq, now
        else:
            cur.execute(_HEAD_SQL_SET.replace("?", mark), (seq, digest))
    finally:
        cur.close()
    store.chain_head = (store.transactions, (seq, digest, checkpoint_seq, checkpoint_at))
    return AuditEntry(seq, digest, prev, now, kind, ref, full)


def locked_head(conn: Connection, store: Store) -> int:
    """The sequence number of the last entry, read inside a write transaction with the head
    locked (PostgreSQL: the row lock; SQLite: the write lock), so no other writer can append
    before this transaction ends."""
    cur: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        return int(_locked_head(cur, store)[0])
    finally:
        cur.close()


def _locked_head(cur: Any, store: Store) -> tuple[Any, ...]:
    """(seq, hash, checkpoint_seq, checkpoint_at) of the head. Read once per transaction: the
    appends of a group commit then chain on from what the previous one left (`chain_head`)."""
    known = store.chain_head
    if known is not None and known[0] == store.transactions:
        return known[1]
    cur.execute(_HEAD_SQL_PG if store.dialect == "postgresql" else _HEAD_SQL)
    head: tuple[Any, ...] = tuple(cur.fetchone())
    store.chain_head = (store.transactions, head)
    return head


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
_CHECKPOINT_SQL = (
    "INSERT INTO audit_checkpoints (seq, entry_hash, signed_at, key_id, payload, signature)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def aware(value: datetime | str) -> datetime:
    """A timestamp as read by the bare driver (SQLite gives text) as an aware UTC time."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def sqlite_stamp(moment: datetime) -> str:
    """A timestamp as SQLAlchemy stores it in SQLite (naive UTC text), so both paths read alike."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def _sign_checkpoint(cur: Any, store: Store, seq: int, digest: str, now: datetime) -> None:
    """Insert a signed checkpoint of entry `seq`; once committed, copy it to the witness."""
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
    signature = store.signer.sign(payload).hex()
    pg = store.dialect == "postgresql"
    cur.execute(
        _CHECKPOINT_SQL.replace("?", "%s" if pg else "?"),
        (
            seq,
            digest,
            now if pg else sqlite_stamp(now),
            store.signer.key_id,
            payload.decode("utf-8"),
            signature,
        ),
    )
    witness = store.checkpoints.witness_dir
    if witness is not None:
        record = {"payload": payload.decode("utf-8"), "signature": signature}
        store.after_commit(lambda: write_witness(witness, record))


def write_witness(folder: os.PathLike[str] | str, record: Mapping[str, str]) -> None:
    """Append one checkpoint to the witness file (opened append-only, synced to disk)."""
    line = json.dumps(dict(record), sort_keys=True, separators=(",", ":")) + "\n"
    path = os.path.join(folder, WITNESS_FILE)
    try:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot write the audit witness file {path}: {exc.strerror}") from None


def checkpoint_now(store: Store) -> int | None:
    """Sign a checkpoint at the current head (shutdown, the timer, `gate audit checkpoint`).

    None when there is no key or nothing new since the last checkpoint.
    """
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
            _sign_checkpoint(cur, store, int(head.seq), head.hash, now)
        finally:
            cur.close()
        conn.execute(
            update(audit_head)
            .where(audit_head.c.id == 1)
            .values(checkpoint_seq=head.seq, checkpoint_at=now)
        )
        return int(head.seq)


def head_seq(store: Store) -> int:
    """The sequence number of the last entry (0: empty chain)."""
    with store.read() as conn:
        return int(conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar_one())


def latest_checkpoint(store: Store) -> dict[str, str] | None:
    """The newest signed checkpoint as an auditor keeps it: {"payload", "signature"}."""
    with store.read() as conn:
        row = conn.execute(
            select(audit_checkpoints.c.payload, audit_checkpoints.c.signature)
            .order_by(audit_checkpoints.c.seq.desc())
            .limit(1)
        ).first()
    return None if row is None else {"payload": row.payload, "signature": row.signature}


def oldest_uncovered_at(store: Store) -> datetime | None:
    """When the oldest entry not yet covered by a checkpoint was appended (None: all covered)."""
    with store.read() as conn:
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one()
        if int(head.seq) <= int(head.checkpoint_seq):
            return None
        moment = conn.execute(
            select(audit_entries.c.recorded_at).where(
                audit_entries.c.seq == int(head.checkpoint_seq) + 1
            )
        ).scalar()
    return None if moment is None else aware(moment)


class Checkpointer:
    """Signs a checkpoint while entries wait uncovered, so none waits longer than the cadence.

    One per serving process, on its store: `start()` when serving begins (it first covers what
    a previous run left uncovered), `stop()` at shutdown (it signs a last checkpoint).
    An entry waits at most half the cadence plus one tick (a quarter, at most a minute).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        minutes = store.checkpoints.minutes
        self.tick = min(minutes * 60 / 4, 60.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.store.signer is None or self._thread is not None:
            return
        self.run_once(force=True)
        self._thread = threading.Thread(target=self._loop, name="gate-checkpointer", daemon=True)
        self._thread.start()

    def run_once(self, *, force: bool = False) -> int | None:
        """Checkpoint when the oldest uncovered entry is older than half the cadence (or now)."""
        oldest = oldest_uncovered_at(self.store)
        if oldest is None:
            return None
        due = timedelta(minutes=self.store.checkpoints.minutes / 2)
        if force or self.store.now() - oldest >= due:
            return checkpoint_now(self.store)
        return None

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_once()
            except StoreError as exc:
                # The next tick tries again; a lasting failure shows in `gate audit verify`.
                _log.error("audit checkpoint failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.store.signer is not None:
            checkpoint_now(self.store)
