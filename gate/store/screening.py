"""Screening records: versioned list imports, each party's results, and the officer's reviews.

An import stores the list's version (date, source, entry count, content hash) and its entries,
each once per content hash; re-importing the same content adds nothing. After an import every
current recipient is screened again; `screen_recipient` screens one (on add or change). A result
row per party and hit (or one `clear` row without a hit) is kept, the previous ones stay as history
(`is_current` false). Every import, screening and review is appended to the audit chain.

A review clears or confirms one hit. A cleared hit stays cleared at the next screening as long as
the party (name, country) and the list entry (its hash) are unchanged; a confirmed one stays
confirmed while the entry is still hit, whatever changed in it.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, and_, insert, select, update

from gate.errors import InputError, NotFoundError, StoreError
from gate.screening import DEFAULT_THRESHOLD
from gate.screening.lists import ListEntry, ParsedList, content_hash
from gate.screening.matching import Hit, ScreeningIndex
from gate.screening.normalize import normalize_name
from gate.screening.status import PartyResult, Status, screening_statuses
from gate.store import audit, generation, recipients
from gate.store.db import Store
from gate.store.recipients import RecipientRecord
from gate.store.schema import screening_entries as te
from gate.store.schema import screening_results as tr
from gate.store.screening_lists import (
    KIND,
    ImportResult,
    ListVersion,
    ScreeningState,
    entries_of,
    latest_list_in,
    record_list,
    state,
    versions,
)

__all__ = [
    "ImportResult",
    "ListVersion",
    "ScreeningResult",
    "ScreeningState",
    "current_index",
    "get_result",
    "import_list",
    "list_results",
    "review",
    "screen_all",
    "screen_recipient",
    "state",
    "statuses",
    "statuses_in",
    "versions",
]


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


def import_list(
    store: Store,
    parsed: ParsedList,
    *,
    actor: str,
    list_date: date | None = None,
    source: str | None = None,
    file_name: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> ImportResult:
    """Record `parsed` as the current list (nothing when its content is the current one's),
    then screen every current recipient against it. `list_date` overrides the file's date."""
    _check_threshold(threshold)
    result = record_list(
        store, parsed, actor=actor, list_date=list_date, source=source, file_name=file_name
    )
    if not result.created:
        return result
    screened = screen_all(store, actor=actor, threshold=threshold)
    return replace(result, screened=screened)


_indexes: weakref.WeakKeyDictionary[Store, tuple[int, ScreeningIndex]] = weakref.WeakKeyDictionary()


def current_index(store: Store) -> tuple[ListVersion, ScreeningIndex] | None:
    """The current list and its index (built once per list version and store), None when off."""
    with store.read() as conn:
        version = latest_list_in(conn)
        if version is None:
            return None
        cached = _indexes.get(store)
        if cached is not None and cached[0] == version.id:
            return version, cached[1]
        entries = entries_of(conn, version.id)
    # Entry hashes are recomputed from the stored bodies: an entry edited (or dropped) in the
    # database after the import no longer adds up to the version's hash, and screening stops.
    if content_hash(entries) != version.content_hash or len(entries) != version.entry_count:
        raise StoreError(
            f"screening list version {version.id} does not match its recorded content hash: "
            "its entries were changed in the database; import the list again"
        )
    index = ScreeningIndex(entries)
    _indexes[store] = (version.id, index)
    return version, index


def _check_threshold(threshold: float) -> None:
    # A threshold of 0 would flag everyone, above 100 no one: both are configuration mistakes.
    if not 50 <= threshold <= 100:
        raise InputError("screening_threshold", f"expected 50 to 100, got {threshold}")


def _parties(record: RecipientRecord) -> list[tuple[Literal["recipient", "parent"], str, Any]]:
    parties: list[tuple[Literal["recipient", "parent"], str, Any]] = [
        ("recipient", record.name, record.headquarters)
    ]
    if record.parent_kind == "party" and record.parent_name:
        parties.append(("parent", record.parent_name, record.parent_headquarters))
    return parties


def _prior_review(
    conn: Connection, recipient_id: str, party: str, name: str, country: str | None, hit: Hit
) -> Any:
    """The latest review of this hit for this party (same name and country), or None."""
    rows = conn.execute(
        select(tr)
        .where(
            tr.c.recipient_id == recipient_id,
            tr.c.party == party,
            tr.c.entry_uid == hit.entry.uid,
            tr.c.reviewed_at.is_not(None),
        )
        .order_by(tr.c.id.desc())
    )
    for row in rows:
        if normalize_name(row.party_name) == normalize_name(name) and row.party_country == country:
            if row.status == "match" or (
                row.status == "clear" and row.entry_hash == hit.entry.hash
            ):
                return row
            return None
    return None


def _screen_in(
    conn: Connection,
    store: Store,
    record: RecipientRecord,
    version: ListVersion,
    index: ScreeningIndex,
    *,
    actor: str,
    threshold: float,
) -> list[ScreeningResult]:
    now = store.now()
    conn.execute(
        update(tr)
        .where(and_(tr.c.recipient_id == record.id, tr.c.is_current.is_(True)))
        .values(is_current=False)
    )
    for party, name, country in _parties(record):
        hits = index.screen(name, country, threshold=threshold)
        base = {
            "recipient_id": record.id,
            "party": party,
            "party_name": name,
            "party_country": country,
            "list_id": version.id,
            "is_current": True,
            "screened_at": now,
        }
        if not hits:
            conn.execute(insert(tr).values(**base, status="clear"))
        for hit in hits:
            row = {
                **base,
                "entry_uid": hit.entry.uid,
                "entry_hash": hit.entry.hash,
                "matched_name": hit.matched_name,
                "score": hit.score,
                "status": "possible_match",
            }
            prior = _prior_review(conn, record.id, party, name, country, hit)
            if prior is not None:
                row.update(
                    status=prior.status,
                    reviewed_by=prior.reviewed_by,
                    review_reason=prior.review_reason,
                    reviewed_at=prior.reviewed_at,
                    carried_from=prior.carried_from or prior.id,
                )
            conn.execute(insert(tr).values(**row))
    results = _current_in(conn, record.id)
    generation.bump(conn)  # a party's screening status is part of what a decision reads
    audit.append(
        conn,
        store,
        KIND,
        {
            "action": "screening.screen",
            "actor": actor,
            "list_id": version.id,
            "list_date": version.list_date,
            "threshold": threshold,
            "results": [r.to_dict() for r in results],
        },
        recipient_id=record.id,
    )
    return results


def screen_recipient(
    store: Store, recipient_id: str, *, actor: str, threshold: float = DEFAULT_THRESHOLD
) -> list[ScreeningResult] | None:
    """Screen a recipient and its ultimate parent against the current list (call it on add and
    on every change); None when no list was imported (screening off)."""
    _check_threshold(threshold)
    loaded = current_index(store)
    if loaded is None:
        return None
    version, index = loaded
    with store.write() as conn:
        record = recipients.get_in(conn, recipient_id)
        return _screen_in(conn, store, record, version, index, actor=actor, threshold=threshold)


def screen_all(store: Store, *, actor: str, threshold: float = DEFAULT_THRESHOLD) -> int:
    """Screen every current recipient; the number screened (0 when screening is off)."""
    _check_threshold(threshold)
    loaded = current_index(store)
    if loaded is None:
        return 0
    version, index = loaded
    count = 0
    for record in recipients.list_all(store):
        with store.write() as conn:
            _screen_in(conn, store, record, version, index, actor=actor, threshold=threshold)
        count += 1
    return count


def _current_in(conn: Connection, recipient_id: str) -> list[ScreeningResult]:
    rows = conn.execute(
        select(tr)
        .where(tr.c.recipient_id == recipient_id, tr.c.is_current.is_(True))
        .order_by(tr.c.id)
    )
    return [_result(row) for row in rows]


def statuses_in(conn: Connection, record: RecipientRecord) -> tuple[Status | None, Status | None]:
    """(recipient, ultimate parent) screening status for the request, inside a read."""
    return screening_statuses(
        (r.to_party() for r in _current_in(conn, record.id)),
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
