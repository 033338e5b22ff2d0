"""Screening results: each party's current and past results, and the officer's reviews of hits.

A run (`gate.store.screening_runs`) writes a result row per party and hit (or one `clear` row
without a hit) and marks the previous ones history (`is_current` false). Here they are read (the
decision reads each party's status) and reviewed: the officer clears or confirms one hit, and the
review is appended to the audit chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, select, update

from gate.errors import InputError, NotFoundError
from gate.screening.lists import ListEntry
from gate.screening.status import PartyResult, Status, screening_statuses
from gate.store import audit, generation, recipients
from gate.store.db import Store
from gate.store.recipients import RecipientRecord
from gate.store.schema import screening_entries as te
from gate.store.schema import screening_results as tr
from gate.store.screening_lists import KIND


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    id: int
    recipient_id: str
    party: Literal["recipient", "parent"]
    party_name: str
    party_country: str | None
    list_id: int
    entry_uid: str | None
    entry_hash: str | None
    matched_name: str | None
    score: float | None
    status: Status
    is_current: bool
    screened_at: datetime
    reviewed_by: str | None
    review_reason: str | None
    reviewed_at: datetime | None
    carried_from: int | None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ScreeningResult.__slots__}

    def to_party(self) -> PartyResult:
        return PartyResult(self.party, self.party_name, self.party_country, self.status)


def _result(row: Any) -> ScreeningResult:
    return ScreeningResult(
        int(row.id),
        row.recipient_id,
        row.party,
        row.party_name,
        row.party_country,
        int(row.list_id),
        row.entry_uid,
        row.entry_hash,
        row.matched_name,
        None if row.score is None else float(row.score),
        row.status,
        bool(row.is_current),
        row.screened_at,
        row.reviewed_by,
        row.review_reason,
        row.reviewed_at,
        row.carried_from,
    )


def current_in(conn: Connection, recipient_id: str) -> list[ScreeningResult]:
    """A recipient's current results (both parties), in the order they were written."""
    rows = conn.execute(
        select(tr)
        .where(tr.c.recipient_id == recipient_id, tr.c.is_current.is_(True))
        .order_by(tr.c.id)
    )
    return [_result(row) for row in rows]


def statuses_in(conn: Connection, record: RecipientRecord) -> tuple[Status | None, Status | None]:
    """(recipient, ultimate parent) screening status for the request, inside a read."""
    return screening_statuses(
        (r.to_party() for r in current_in(conn, record.id)),
        name=record.name,
        headquarters=record.headquarters,
        parent_kind=record.parent_kind,
        parent_name=record.parent_name,
        parent_headquarters=record.parent_headquarters,
    )


def statuses(store: Store, recipient_id: str) -> tuple[Status | None, Status | None]:
    with store.read() as conn:
        return statuses_in(conn, recipients.get_in(conn, recipient_id))


def list_results(
    store: Store,
    *,
    recipient_id: str | None = None,
    status: str | None = None,
    include_history: bool = False,
) -> list[ScreeningResult]:
    query = select(tr).order_by(tr.c.id)
    if not include_history:
        query = query.where(tr.c.is_current.is_(True))
    if recipient_id is not None:
        query = query.where(tr.c.recipient_id == recipient_id)
    if status is not None:
        query = query.where(tr.c.status == status)
    with store.read() as conn:
        return [_result(row) for row in conn.execute(query)]


def get_result(store: Store, result_id: int) -> tuple[ScreeningResult, ListEntry | None]:
    """A result and the list entry it matched (None for a clear result without a hit)."""
    with store.read() as conn:
        row = conn.execute(select(tr).where(tr.c.id == result_id)).first()
        if row is None:
            raise NotFoundError(f"no screening result {result_id}")
        result = _result(row)
        entry = None
        if result.entry_hash is not None:
            body = conn.scalar(select(te.c.body).where(te.c.entry_hash == result.entry_hash))
            entry = None if body is None else ListEntry.from_dict(json.loads(body))
    return result, entry


def review(
    store: Store,
    result_id: int,
    *,
    decision: Literal["clear", "confirm"],
    reason: str,
    officer: str,
) -> ScreeningResult:
    """The officer's word on a current hit: `clear` (not the listed party) or `confirm`."""
    if decision not in ("clear", "confirm"):
        raise InputError("decision", "expected clear or confirm")
    if not reason.strip():
        raise InputError("reason", "a review needs a reason")
    if not officer.strip():
        raise InputError("officer", "a review needs the officer's name")
    with store.write() as conn:
        row = conn.execute(select(tr).where(tr.c.id == result_id)).first()
        if row is None:
            raise NotFoundError(f"no screening result {result_id}")
        before = _result(row)
        if before.entry_uid is None:
            raise InputError("id", f"result {result_id} has no hit to review")
        if not before.is_current:
            raise InputError("id", f"result {result_id} was superseded by a later screening")
        status: Status = "clear" if decision == "clear" else "match"
        now = store.now()
        conn.execute(
            update(tr)
            .where(tr.c.id == result_id)
            .values(
                status=status,
                reviewed_by=officer.strip(),
                review_reason=reason.strip(),
                reviewed_at=now,
                carried_from=None,
            )
        )
        after = _result(conn.execute(select(tr).where(tr.c.id == result_id)).one())
        generation.bump(conn)
        audit.append(
            conn,
            store,
            KIND,
            {
                "action": "screening.review",
                "actor": officer.strip(),
                "decision": decision,
                "reason": reason.strip(),
                "before": before.status,
                "result": after.to_dict(),
            },
            recipient_id=after.recipient_id,
        )
    return after
