"""Screening runs: each recipient and its parent against the current list, reviews carried over.

An import stores the list's version (`gate.store.screening_lists`) and then screens every current
recipient again; `screen_recipient` screens one (call it on add and on every change). Each run
replaces the party's current results (`gate.store.screening` keeps them and the older ones as
history) and is appended to the audit chain.

An officer's earlier review carries over to the same hit at the next run: a cleared hit stays
cleared as long as the party (name, country) and the list entry (its hash) are unchanged; a
confirmed one stays confirmed while the entry is still hit, whatever changed in it.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from datetime import date
from typing import Any, Literal

from sqlalchemy import Connection, and_, insert, select, update

from gate.errors import InputError, StoreError
from gate.screening import DEFAULT_THRESHOLD
from gate.screening.lists import ParsedList, content_hash
from gate.screening.matching import Hit, ScreeningIndex
from gate.screening.normalize import normalize_name
from gate.store import audit, generation, recipients
from gate.store.db import Store
from gate.store.recipients import RecipientRecord
from gate.store.schema import screening_results as tr
from gate.store.screening import ScreeningResult, current_in
from gate.store.screening_lists import (
    KIND,
    ImportResult,
    ListVersion,
    entries_of,
    latest_list_in,
    record_list,
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
    results = current_in(conn, record.id)
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
