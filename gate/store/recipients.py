"""Recipients: the organisations that receive weights, with the facts the decision needs.

A recipient has headquarters, an ultimate parent (a named party, none: it is its own, or unknown:
the gate asks), the destinations it may receive in (one default), a security attestation with its
validity, and contacts. Countries are normalised to alpha-2 on the way in. Every change is
recorded in the audit chain with who made it; removal is soft (records keep their references).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, insert, select, update

from gate.core.canonical import canonical_json
from gate.core.values import SELF, Attestation, Party, Recipient
from gate.errors import InputError, NotFoundError
from gate.rules.countries import normalize_country
from gate.store import audit, generation
from gate.store.db import Store
from gate.store.schema import recipients as t

ParentKind = Literal["self", "party", "unknown"]
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class RecipientRecord:
    id: str
    name: str
    headquarters: str | None
    parent_kind: ParentKind
    parent_name: str | None
    parent_headquarters: str | None
    default_destination: str | None
    destinations: tuple[str, ...]
    attestation_valid_from: date | None
    attestation_valid_until: date | None
    attestation_reference: str | None
    contacts: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None = None

    def to_core(self) -> Recipient:
        """The core's view: parent SELF / Party / None (unknown), attestation when recorded."""
        parent: Party | Literal["self"] | None
        if self.parent_kind == "self":
            parent = SELF
        elif self.parent_kind == "party":
            parent = Party(self.parent_name or "", self.parent_headquarters)
        else:
            parent = None
        attestation = None
        if self.attestation_valid_until is not None:
            attestation = Attestation(self.attestation_valid_until, self.attestation_valid_from)
        return Recipient(self.name, self.headquarters, parent, attestation, self.id)

    def to_dict(self) -> dict[str, Any]:
        parent: Any = {"self": "none (its own ultimate parent)", "unknown": None}.get(
            self.parent_kind
        )
        if self.parent_kind == "party":
            parent = {"name": self.parent_name, "headquarters": self.parent_headquarters}
        return {
            "id": self.id,
            "name": self.name,
            "headquarters": self.headquarters,
            "ultimate_parent": parent,
            "parent_kind": self.parent_kind,
            "default_destination": self.default_destination,
            "destinations": list(self.destinations),
            "security_attestation": None
            if self.attestation_valid_until is None
            else {
                "valid_from": self.attestation_valid_from,
                "valid_until": self.attestation_valid_until,
                "reference": self.attestation_reference,
            },
            "contacts": list(self.contacts),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "removed_at": self.removed_at,
        }


def _record(row: Any) -> RecipientRecord:
    return RecipientRecord(
        row.id,
        row.name,
        row.headquarters,
        row.parent_kind,
        row.parent_name,
        row.parent_headquarters,
        row.default_destination,
        tuple(json.loads(row.destinations)),
        row.attestation_valid_from,
        row.attestation_valid_until,
        row.attestation_reference,
        tuple(json.loads(row.contacts)),
        row.created_at,
        row.updated_at,
        row.removed_at,
    )


def _country(value: str | None, field: str) -> str | None:
    return None if value is None else normalize_country(value, field)


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise the given fields into column values (only those given)."""
    out: dict[str, Any] = {}
    if "name" in fields:
        name = str(fields["name"]).strip()
        if not name:
            raise InputError("name", "must not be empty")
        out["name"] = name
    if "headquarters" in fields:
        out["headquarters"] = _country(fields["headquarters"], "headquarters")
    if "parent" in fields:
        parent = fields["parent"]
        if parent == "self":
            out.update(parent_kind="self", parent_name=None, parent_headquarters=None)
        elif parent is None or parent == "unknown":
            out.update(parent_kind="unknown", parent_name=None, parent_headquarters=None)
        else:
            pname, phq = parent
            if not str(pname).strip():
                raise InputError("parent", "the ultimate parent needs a name")
            out.update(
                parent_kind="party",
                parent_name=str(pname).strip(),
                parent_headquarters=_country(phq, "parent_headquarters"),
            )
    if "destinations" in fields:
        codes = [normalize_country(d, "destinations") for d in fields["destinations"]]
        out["destinations"] = list(dict.fromkeys(codes))
    if "default_destination" in fields:
        out["default_destination"] = _country(fields["default_destination"], "default_destination")
    if "attestation" in fields:
        att = fields["attestation"]
        if att is None:
            out.update(
                attestation_valid_from=None,
                attestation_valid_until=None,
                attestation_reference=None,
            )
        else:
            valid_until, valid_from, reference = att
            if valid_from is not None and valid_from > valid_until:
                raise InputError("attestation", "valid_from is after valid_until")
            out.update(
                attestation_valid_from=valid_from,
                attestation_valid_until=valid_until,
                attestation_reference=reference,
            )
    if "contacts" in fields:
        out["contacts"] = [str(c).strip() for c in fields["contacts"] if str(c).strip()]
    unknown = set(fields) - {
        "name",
        "headquarters",
        "parent",
        "destinations",
        "default_destination",
        "attestation",
        "contacts",
    }
    if unknown:
        raise InputError(sorted(unknown)[0], "not a recipient field")
    return out


def _settle_destinations(row: dict[str, Any]) -> None:
    """One default destination, and it is among the destinations (added when missing)."""
    dests: list[str] = list(row.get("destinations") or [])
    default = row.get("default_destination")
    if default is None and dests:
        default = dests[0]
    if default is not None and default not in dests:
        dests.insert(0, default)
    row["destinations"], row["default_destination"] = dests, default


def _columns(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("destinations", "contacts"):
        if key in out:
            out[key] = canonical_json(list(out[key])).decode()
    return out


def add(store: Store, recipient_id: str, *, actor: str, **fields: Any) -> RecipientRecord:
    """Create a recipient. Fields: name, headquarters, parent (("name", "CC"), "self", None),
    destinations, default_destination, attestation ((until, from, reference) or None), contacts.
    """
    if not _ID.match(recipient_id):
        raise InputError("id", "use lower-case letters, digits, '.', '_' or '-' (max 100)")
    if "name" not in fields:
        raise InputError("name", "a recipient needs a name")
    row: dict[str, Any] = {
        "parent_kind": "unknown",
        "destinations": [],
        "default_destination": None,
        "contacts": [],
        **_clean(fields),
    }
    _settle_destinations(row)
    now = store.now()
    with store.write() as conn:
        if _get(conn, recipient_id, include_removed=True) is not None:
            raise InputError("id", f"recipient {recipient_id!r} already exists")
        conn.execute(
            insert(t), {"id": recipient_id, **_columns(row), "created_at": now, "updated_at": now}
        )
        generation.bump(conn)
        record = _get(conn, recipient_id)
        assert record is not None
        audit.append(
            conn,
            store,
            "admin",
            {"action": "recipient.add", "actor": actor, "recipient": record.to_dict()},
            recipient_id=recipient_id,
        )
    return record


def update_recipient(
    store: Store, recipient_id: str, *, actor: str, **fields: Any
) -> RecipientRecord:
    """Change the given fields of a recipient (same fields as `add`)."""
    changes = _clean(fields)
    if not changes:
        raise InputError("", "nothing to update")
    with store.write() as conn:
        current = _require(conn, recipient_id)
        row = {
            "destinations": list(current.destinations),
            "default_destination": current.default_destination,
            **changes,
        }
        if (
            "destinations" in changes
            and "default_destination" not in changes
            and current.default_destination not in row["destinations"]
        ):
            row["default_destination"] = None
        _settle_destinations(row)
        conn.execute(
            update(t).where(t.c.id == recipient_id).values(**_columns(row), updated_at=store.now())
        )
        generation.bump(conn)
        record = _get(conn, recipient_id)
        assert record is not None
        audit.append(
            conn,
            store,
            "admin",
            {"action": "recipient.update", "actor": actor, "recipient": record.to_dict()},
            recipient_id=recipient_id,
        )
    return record


def apply_in(
    conn: Connection, store: Store, recipient_id: str, fields: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Update a recipient inside the caller's transaction (an approved inquiry's answers).

    Returns what changed in the record, field by field: {"field": {"from": ..., "to": ...}}.
    """
    current = _require(conn, recipient_id)
    row = {
        "destinations": list(current.destinations),
        "default_destination": current.default_destination,
        **_clean(fields),
    }
    _settle_destinations(row)
    conn.execute(
        update(t).where(t.c.id == recipient_id).values(**_columns(row), updated_at=store.now())
    )
    generation.bump(conn)
    after = _require(conn, recipient_id)
    return record_changes(current, after)


def record_changes(before: RecipientRecord, after: RecipientRecord) -> dict[str, dict[str, Any]]:
    """The decision-relevant fields that differ between two versions of a recipient."""
    old, new = before.to_dict(), after.to_dict()
    keys = (
        "headquarters",
        "ultimate_parent",
        "default_destination",
        "destinations",
        "security_attestation",
    )
    return {k: {"from": _plain(old[k]), "to": _plain(new[k])} for k in keys if old[k] != new[k]}


def _plain(value: Any) -> Any:
    """JSON-ready (dates as ISO text) for the audit entry and the CLI."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def remove(store: Store, recipient_id: str, *, actor: str) -> None:
    """Remove a recipient: its credentials stop working; its records stay for the audit."""
    with store.write() as conn:
        _require(conn, recipient_id)
        conn.execute(update(t).where(t.c.id == recipient_id).values(removed_at=store.now()))
        generation.bump(conn)
        audit.append(
            conn,
            store,
            "admin",
            {"action": "recipient.remove", "actor": actor, "recipient_id": recipient_id},
            recipient_id=recipient_id,
        )


# Built once: constructing a statement per call costs as much as running it (hot path: every
# decision reads the recipient).
_BY_ID = select(t).where(t.c.id == bindparam("recipient_id"))
_CURRENT_BY_ID = _BY_ID.where(t.c.removed_at.is_(None))


def _get(
    conn: Connection, recipient_id: str, include_removed: bool = False
) -> RecipientRecord | None:
    query = _BY_ID if include_removed else _CURRENT_BY_ID
    row = conn.execute(query, {"recipient_id": recipient_id}).first()
    return None if row is None else _record(row)


def _require(conn: Connection, recipient_id: str) -> RecipientRecord:
    record = _get(conn, recipient_id)
    if record is None:
        raise NotFoundError(f"unknown recipient {recipient_id!r}")
    return record


def get(store: Store, recipient_id: str) -> RecipientRecord:
    """The recipient, or NotFoundError naming it."""
    with store.read() as conn:
        return _require(conn, recipient_id)


def get_in(conn: Connection, recipient_id: str) -> RecipientRecord:
    return _require(conn, recipient_id)


def list_all(store: Store, *, include_removed: bool = False) -> list[RecipientRecord]:
    with store.read() as conn:
        query = select(t).order_by(t.c.id)
        if not include_removed:
            query = query.where(t.c.removed_at.is_(None))
        return [_record(row) for row in conn.execute(query)]


__all__ = [
    "RecipientRecord",
    "add",
    "apply_in",
    "get",
    "get_in",
    "list_all",
    "record_changes",
    "remove",
    "update_recipient",
]
