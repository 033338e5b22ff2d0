"""BIS license records: number, recipient, models (or ECCN 4E091), destinations, validity.

A license may cap the number of transfers it authorises (`max_transfers`). What counts is a
transfer: the first decision that sends bytes of a parameter file beyond its header, per
(license, recipient, repository, commit, file); HEAD, header reads, listings and resumed ranges
of a file already counted do not use the cap. `claim_in` reads the count and records the
transfer in the decision's own write transaction with the license row locked (SELECT ... FOR
UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE holds the database's one write lock), so N
concurrent downloads against a cap of K allow exactly min(N, K), across processes and replicas.
The count is of `license_transfers` rows, each matched to the audit entry that claimed it by
`gate audit verify`. A revoked license is not handed to the decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, func, insert, select, update

from gate.core.canonical import canonical_json
from gate.core.values import License
from gate.errors import InputError, NotFoundError
from gate.rules.countries import normalize_country
from gate.store import audit, generation, recipients
from gate.store.db import Store
from gate.store.repos import repo_key
from gate.store.schema import license_transfers as lt
from gate.store.schema import licenses as t

ECCN = "4E091"


@dataclass(frozen=True, slots=True)
class LicenseRecord:
    number: str
    recipient_id: str
    models: tuple[str, ...]
    destinations: tuple[str, ...]
    valid_from: date | None
    valid_until: date
    conditions: str
    max_transfers: int | None
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    transfers: int = 0

    def to_core(self) -> License:
        return License(
            self.number,
            self.recipient_id,
            self.models,
            self.destinations,
            self.valid_until,
            self.valid_from,
        )

    @property
    def exhausted(self) -> bool:
        return self.max_transfers is not None and self.transfers >= self.max_transfers

    def usable_on(self, day: date) -> bool:
        """Valid on the day, not revoked, and under its cap."""
        in_dates = (self.valid_from is None or self.valid_from <= day) and day <= self.valid_until
        return in_dates and self.revoked_at is None and not self.exhausted

    def status_on(self, day: date) -> str:
        """What the license is worth on the day: revoked, not yet valid, expired, used up, valid."""
        if self.revoked_at is not None:
            return "revoked"
        if self.valid_from is not None and day < self.valid_from:
            return "not yet valid"
        if day > self.valid_until:
            return "expired"
        return "used up" if self.exhausted else "valid"

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "recipient_id": self.recipient_id,
            "models": list(self.models),
            "destinations": list(self.destinations),
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "conditions": self.conditions,
            "max_transfers": self.max_transfers,
            "transfers": self.transfers,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "revoke_reason": self.revoke_reason,
        }


def _usage(conn: Connection, numbers: list[str]) -> dict[str, int]:
    if not numbers:
        return {}
    rows = conn.execute(
        select(lt.c.license_number, func.count())
        .where(lt.c.license_number.in_(numbers))
        .group_by(lt.c.license_number)
    ).all()
    return {str(number): int(count) for number, count in rows}


def _records(
    conn: Connection, rows: list[Any], *, capped_only: bool = False
) -> list[LicenseRecord]:
    """`capped_only`: count past transfers only for licenses with a cap (the decision path,
    where counting an uncapped license's transfers would cost a scan per request for nothing)."""
    counted = [r.number for r in rows if not capped_only or r.max_transfers is not None]
    usage = _usage(conn, counted)
    return [
        LicenseRecord(
            r.number,
            r.recipient_id,
            tuple(json.loads(r.models)),
            tuple(json.loads(r.destinations)),
            r.valid_from,
            r.valid_until,
            r.conditions,
            r.max_transfers,
            r.created_at,
            r.revoked_at,
            r.revoke_reason,
            usage.get(r.number, 0),
        )
        for r in rows
    ]


def add(
    store: Store,
    number: str,
    *,
    recipient_id: str,
    models: list[str],
    destinations: list[str],
    valid_until: date,
    valid_from: date | None = None,
    conditions: str = "",
    max_transfers: int | None = None,
    actor: str,
) -> LicenseRecord:
    """Record a BIS license. `models` are repo ids, or "4E091" for every controlled model."""
    number = number.strip()
    if not number:
        raise InputError("number", "must not be empty")
    if not models or not all(m.strip() for m in models):
        raise InputError("models", f"name at least one repository, or {ECCN}")
    cleaned_models = [ECCN if m.strip().upper() == ECCN else repo_key(m) for m in models]
    codes = list(dict.fromkeys(normalize_country(d, "destinations") for d in destinations))
    if not codes:
        raise InputError("destinations", "name at least one destination")
    if valid_from is not None and valid_from > valid_until:
        raise InputError("valid_from", "is after valid_until")
    if max_transfers is not None and max_transfers < 1:
        raise InputError("max_transfers", "must be at least 1")
    with store.write() as conn:
        recipients.get_in(conn, recipient_id)
        if conn.execute(select(t.c.number).where(t.c.number == number)).first() is not None:
            raise InputError("number", f"license {number!r} is already on record")
        row = {
            "number": number,
            "recipient_id": recipient_id,
            "models": canonical_json(cleaned_models).decode(),
            "destinations": canonical_json(codes).decode(),
            "valid_from": valid_from,
            "valid_until": valid_until,
            "conditions": conditions,
            "max_transfers": max_transfers,
            "created_at": store.now(),
        }
        conn.execute(insert(t), row)
        generation.bump(conn)
        record = _records(conn, [conn.execute(select(t).where(t.c.number == number)).one()])[0]
        audit.append(
            conn,
            store,
            "admin",
            {"action": "license.add", "actor": actor, "license": record.to_dict()},
            recipient_id=recipient_id,
        )
    return record


def revoke(store: Store, number: str, *, reason: str, actor: str) -> LicenseRecord:
    with store.write() as conn:
        row = conn.execute(select(t).where(t.c.number == number)).first()
        if row is None:
            raise NotFoundError(f"unknown license {number!r}")
        if row.revoked_at is not None:
            raise InputError("number", f"license {number!r} is already revoked")
        conn.execute(
            update(t)
            .where(t.c.number == number)
            .values(revoked_at=store.now(), revoke_reason=reason)
        )
        generation.bump(conn)
        record = _records(conn, [conn.execute(select(t).where(t.c.number == number)).one()])[0]
        audit.append(
            conn,
            store,
            "admin",
            {"action": "license.revoke", "actor": actor, "number": number, "reason": reason},
            recipient_id=row.recipient_id,
        )
    return record


def get(store: Store, number: str) -> LicenseRecord:
    with store.read() as conn:
        row = conn.execute(select(t).where(t.c.number == number)).first()
        if row is None:
            raise NotFoundError(f"unknown license {number!r}")
        return _records(conn, [row])[0]


def list_all(store: Store, *, recipient_id: str | None = None) -> list[LicenseRecord]:
    with store.read() as conn:
        query = select(t).order_by(t.c.number)
        if recipient_id is not None:
            query = query.where(t.c.recipient_id == recipient_id)
        return _records(conn, list(conn.execute(query).all()))


_UNREVOKED_FOR = select(t).where(
    t.c.recipient_id == bindparam("recipient_id"), t.c.revoked_at.is_(None)
)


def usable_for(conn: Connection, recipient_id: str, day: date) -> list[LicenseRecord]:
    """The licenses a decision may consider for this recipient on this day: in dates and not
    revoked. A capped license is offered even when its cap is reached: whether this transfer
    may use it (a resumed range of a file already counted may) is settled by `claim_in`."""
    rows = conn.execute(_UNREVOKED_FOR, {"recipient_id": recipient_id}).all()
    return [
        r
        for r in _records(conn, list(rows), capped_only=True)
        if (r.valid_from is None or r.valid_from <= day) and day <= r.valid_until
    ]


@dataclass(frozen=True, slots=True)
class TransferKey:
    """What one counted transfer is: a file of a commit to a recipient (repository by its key)."""

    recipient_id: str
    repo_id: str
    commit: str
    file: str

    def to_dict(self, number: str) -> dict[str, str]:
        return {
            "license": number,
            "recipient_id": self.recipient_id,
            "repo_id": self.repo_id,
            "commit": self.commit,
            "file": self.file,
        }


Claim = Literal["uncapped", "claimed", "counted_before", "available", "exhausted"]


def claim_in(
    conn: Connection,
    store: Store,
    number: str,
    key: TransferKey | None,
    *,
    counted: bool,
    decision_id: str,
) -> tuple[Claim, int | None]:
    """May this transfer use license `number`, and record it when it counts. Returns the
    outcome and the cap. Inside the decision's write transaction, with the license row locked:

    - "uncapped": no cap; "counted_before": this file was already counted (a resume);
    - "claimed": `counted` and under the cap: the transfer row is written now;
    - "available": under the cap, nothing counted (HEAD, header read, listing);
    - "exhausted": the cap is reached and this file was never counted under it.
    """
    lock = select(t.c.max_transfers).where(t.c.number == number)
    if store.dialect == "postgresql":
        lock = lock.with_for_update()
    cap = conn.execute(lock).scalar()
    if cap is None:
        return "uncapped", None
    if key is not None:
        seen = conn.execute(
            select(lt.c.decision_id).where(
                lt.c.license_number == number,
                lt.c.recipient_id == key.recipient_id,
                lt.c.repo_id == key.repo_id,
                lt.c.commit == key.commit,
                lt.c.file == key.file,
            )
        ).first()
        if seen is not None:
            return "counted_before", int(cap)
    used = conn.execute(select(func.count()).where(lt.c.license_number == number)).scalar_one()
    if int(used) >= int(cap):
        return "exhausted", int(cap)
    if not counted or key is None:
        return "available", int(cap)
    conn.execute(
        insert(lt),
        {
            "license_number": number,
            "recipient_id": key.recipient_id,
            "repo_id": key.repo_id,
            "commit": key.commit,
            "file": key.file,
            "decision_id": decision_id,
            "counted_at": store.now(),
        },
    )
    return "claimed", int(cap)
