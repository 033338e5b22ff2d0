"""Screening list versions: each import's date, source, entry count and content hash, and entries.

Entries are stored once per content hash (`screening_entries`) and linked to each version that
holds them, so re-importing an unchanged entry adds no row and a changed one is a new hash under
the same list id (`uid`). Importing content equal to the current version's adds nothing at all.
The results and reviews that use these lists live in `gate.store.screening`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from gate.core.canonical import canonical_json
from gate.errors import InputError
from gate.screening import DEFAULT_MAX_LIST_AGE_DAYS
from gate.screening.lists import DEFAULT_SOURCE, ListEntry, ParsedList
from gate.store import audit
from gate.store.db import Store
from gate.store.schema import screening_entries as te
from gate.store.schema import screening_list_entries as tm
from gate.store.schema import screening_lists as tl

KIND = "screening"


@dataclass(frozen=True, slots=True)
class ListVersion:
    id: int
    source: str
    list_date: date
    content_hash: str
    entry_count: int
    sources: tuple[str, ...]
    file_name: str | None
    imported_by: str
    imported_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "list_date": self.list_date,
            "content_hash": self.content_hash,
            "entry_count": self.entry_count,
            "sources": list(self.sources),
            "file_name": self.file_name,
            "imported_by": self.imported_by,
            "imported_at": self.imported_at,
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    version: ListVersion
    created: bool  # False: the same content as the current version, nothing added
    added: int = 0
    changed: int = 0
    removed: int = 0
    screened: int = 0


@dataclass(frozen=True, slots=True)
class ScreeningState:
    """Whether screening is on (a list imported) and how old the list is."""

    on: bool
    list: ListVersion | None
    age_days: int | None
    max_age_days: int

    @property
    def stale(self) -> bool:
        return self.age_days is not None and self.age_days > self.max_age_days

    def warning(self) -> str | None:
        """One line for `gate serve`'s start-up, or None when screening is on and fresh."""
        if self.list is None:
            return "screening is off: no restricted-party list imported (gate screening import)"
        if self.stale:
            return (
                f"the screening list is {self.age_days} days old (dated {self.list.list_date}, "
                f"older than {self.max_age_days} days): import a current one"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "on": self.on,
            "list": None if self.list is None else self.list.to_dict(),
            "age_days": self.age_days,
            "max_age_days": self.max_age_days,
            "stale": self.stale,
            "warning": self.warning(),
        }


def _version(row: Any) -> ListVersion:
    return ListVersion(
        int(row.id),
        row.source,
        row.list_date,
        row.content_hash,
        int(row.entry_count),
        tuple(json.loads(row.sources)),
        row.file_name,
        row.imported_by,
        row.imported_at,
    )


def latest_list_in(conn: Connection) -> ListVersion | None:
    row = conn.execute(select(tl).order_by(tl.c.id.desc()).limit(1)).first()
    return None if row is None else _version(row)


def entries_of(conn: Connection, list_id: int) -> list[ListEntry]:
    rows = conn.execute(
        select(te.c.body)
        .join(tm, tm.c.entry_hash == te.c.entry_hash)
        .where(tm.c.list_id == list_id)
    )
    return [ListEntry.from_dict(json.loads(row.body)) for row in rows]


def record_list(
    store: Store,
    parsed: ParsedList,
    *,
    actor: str,
    list_date: date | None = None,
    source: str | None = None,
    file_name: str | None = None,
) -> ImportResult:
    """Record `parsed` as the current list version, unless its content is the current one's
    (then `created` is False and nothing is written). `list_date` overrides the file's date."""
    day = list_date or parsed.list_date
    if day is None:
        raise InputError("list-date", "the file does not give the list's date: pass --list-date")
    with store.write() as conn:
        current = latest_list_in(conn)
        if current is not None and current.content_hash == parsed.content_hash:
            return ImportResult(current, created=False)
        before = {} if current is None else {e.uid: e.hash for e in entries_of(conn, current.id)}
        now = store.now()
        key = conn.execute(
            insert(tl).values(
                source=source or DEFAULT_SOURCE,
                list_date=day,
                content_hash=parsed.content_hash,
                entry_count=len(parsed.entries),
                sources=canonical_json(list(parsed.sources)).decode(),
                file_name=file_name,
                imported_by=actor,
                imported_at=now,
            )
        ).inserted_primary_key
        assert key is not None
        list_id = int(key[0])
        hashes = [e.hash for e in parsed.entries]
        known: set[str] = set()
        for i in range(0, len(hashes), 900):
            chunk = hashes[i : i + 900]
            known.update(conn.scalars(select(te.c.entry_hash).where(te.c.entry_hash.in_(chunk))))
        fresh = [
            {"entry_hash": e.hash, "uid": e.uid, "body": canonical_json(e.to_dict()).decode()}
            for e in parsed.entries
            if e.hash not in known
        ]
        if fresh:
            conn.execute(insert(te), fresh)
        conn.execute(insert(tm), [{"list_id": list_id, "entry_hash": h} for h in hashes])
        after = {e.uid: e.hash for e in parsed.entries}
        changed = sorted(u for u in after if u in before and before[u] != after[u])
        added = len(after.keys() - before.keys())
        removed = len(before.keys() - after.keys())
        version = latest_list_in(conn)
        assert version is not None and version.id == list_id
        audit.append(
            conn,
            store,
            KIND,
            {
                "action": "screening.import",
                "actor": actor,
                "list": version.to_dict(),
                "added": added,
                "changed": len(changed),
                "changed_uids": changed[:100],
                "removed": removed,
            },
        )
    return ImportResult(version, True, added, len(changed), removed)


def state(
    store: Store, today: date, *, max_age_days: int = DEFAULT_MAX_LIST_AGE_DAYS
) -> ScreeningState:
    """Whether screening is on and how old the current list is on `today`."""
    with store.read() as conn:
        version = latest_list_in(conn)
    if version is None:
        return ScreeningState(False, None, None, max_age_days)
    return ScreeningState(True, version, (today - version.list_date).days, max_age_days)


def versions(store: Store) -> Sequence[ListVersion]:
    with store.read() as conn:
        return [_version(row) for row in conn.execute(select(tl).order_by(tl.c.id))]
