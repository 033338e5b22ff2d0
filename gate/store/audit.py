"""Reading the audit chain: entries by sequence number or decision id, in order, verified.

The chain itself (entry hash, append, checkpoints) lives in `gate.store.chain`; its names are
re-exported here because every records module appends through `audit.append`.
Verification lives in `gate.store.verify`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from gate.errors import NotFoundError
from gate.store.chain import (
    CHECKPOINT_TYPE,
    GENESIS,
    AuditEntry,
    append,
    append_now,
    checkpoint_now,
    entry_hash,
)
from gate.store.db import Store
from gate.store.schema import audit_entries
from gate.store.verify import VerifyResult, verify_chain

__all__ = [
    "CHECKPOINT_TYPE",
    "GENESIS",
    "AuditEntry",
    "VerifyResult",
    "append",
    "append_now",
    "checkpoint_now",
    "count_entries",
    "entry_hash",
    "get_entry",
    "iter_entries",
    "verify_chain",
]


def get_entry(store: Store, key: str) -> AuditEntry:
    """An entry by sequence number or by the decision id it records; NotFoundError otherwise.

    Keys come from clients (receipt lookups): anything that cannot be a sequence number or a
    ref (too long, a number past 64 bits) is simply not found, never a database error.
    """
    if len(key) > 64 or (key.isdigit() and int(key) >= 2**63):
        raise NotFoundError(f"no audit entry {key[:64]!r}")
    with store.read() as conn:
        query = select(audit_entries)
        if key.isascii() and key.isdigit():
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
            query = _filtered(select(audit_entries), since, kind)
            query = query.where(audit_entries.c.seq > last).order_by(audit_entries.c.seq)
            rows = conn.execute(query.limit(5000)).all()
        if not rows:
            return
        for row in rows:
            yield _entry(row)
        last = int(rows[-1].seq)


def count_entries(store: Store, *, since: datetime | None = None, kind: str | None = None) -> int:
    """How many entries `iter_entries` with the same filters would yield now (a progress total:
    entries appended while a walk runs are walked too)."""
    query = _filtered(select(func.count()).select_from(audit_entries), since, kind)
    with store.read() as conn:
        return int(conn.execute(query).scalar_one())


def _filtered(query: Select[Any], since: datetime | None, kind: str | None) -> Select[Any]:
    if since is not None:
        query = query.where(audit_entries.c.recorded_at >= since)
    if kind is not None:
        query = query.where(audit_entries.c.kind == kind)
    return query
