"""What the console reads from and does to the records store: the queue, inquiries and their
review, recipients, licenses, models.

The pages never call the store's record modules directly: when the store's API changes (answer
versions, the service layer), this is the file to adapt (decisions: `gate.console.decisions`;
the audit chain's state: `gate.console.chain`; screening: `gate.console.screening`). Inquiry
history is read from the audit entries' canonical bodies, the part the chain protects.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gate.console import screening
from gate.core.canonical import canonical_json
from gate.errors import InputError, NotFoundError
from gate.store import answers as answer_rules
from gate.store import audit, credentials, inquiries, licenses, models, recipients
from gate.store.db import Store
from gate.store.inquiry_record import InquiryRecord
from gate.store.schema import (
    audit_entries,
    designations,
    model_overrides,
    model_records,
)

SCAN_LIMIT = 20_000  # entries a page looks at, newest first; CSV export is not limited


# -- inquiries and the queue -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerVersion:
    """One submission of the recipient's answers, as the audit chain recorded it."""

    number: int
    answers: Mapping[str, Any]
    recorded_at: datetime
    changed: tuple[str, ...]  # question codes whose answer differs from the previous version


@dataclass(frozen=True, slots=True)
class InquiryView:
    record: InquiryRecord
    versions: tuple[AnswerVersion, ...]
    recipient: recipients.RecipientRecord | None
    basis: str | None
    decision_ids: tuple[str, ...]
    history: tuple[Mapping[str, Any], ...]
    recipient_changes: tuple[tuple[str, Any, Any], ...]  # field, now, after approval

    @property
    def version(self) -> int:
        return self.versions[-1].number if self.versions else 0

    @property
    def digest(self) -> str:
        return answers_digest(self.record.answers)


def answers_digest(answers: Mapping[str, Any] | None) -> str:
    return hashlib.sha256(canonical_json(answers)).hexdigest()[:16]


def _inquiry_entries(store: Store, record: InquiryRecord) -> list[Mapping[str, Any]]:
    c = audit_entries.c
    with store.read() as conn:
        rows = conn.execute(
            select(c.seq, c.body)
            .where(
                c.kind.in_(("inquiry", "decision")),
                c.recipient_id == record.recipient_id,
                c.repo_id == record.repo_id,
            )
            .order_by(c.seq)
        ).all()
    found: list[Mapping[str, Any]] = []
    for seq, body in rows:
        payload = json.loads(body)
        if payload.get("inquiry_id") == record.id:
            found.append({"seq": int(seq), **payload})
    return found


def _preview(
    record: InquiryRecord, current: recipients.RecipientRecord | None
) -> list[tuple[str, Any, Any]]:
    """What approving would change in the recipient's record: (field, now, after)."""
    if current is None or not record.answers:
        return []
    # The store's own mapping from answers to recipient fields (one home for that rule).
    fields = answer_rules.recipient_fields(record.answers)
    now = current.to_dict()
    out: list[tuple[str, Any, Any]] = []
    if "headquarters" in fields:
        out.append(("headquarters", now["headquarters"], fields["headquarters"]))
    if "parent" in fields:
        after = fields["parent"]
        shown = (
            "none (its own ultimate parent)"
            if after == "self"
            else {"name": after[0], "headquarters": after[1]}
        )
        out.append(("ultimate parent", now["ultimate_parent"], shown))
    if "default_destination" in fields:
        out.append(
            ("default destination", now["default_destination"], fields["default_destination"])
        )
    if "attestation" in fields:
        until, since, reference = fields["attestation"]
        after = {"valid_from": since, "valid_until": until, "reference": reference}
        out.append(("security attestation", now["security_attestation"], after))
    return [row for row in out if row[1] != row[2]]


def inquiry(store: Store, inquiry_id: str) -> InquiryView:
    record = inquiries.get(store, inquiry_id)
    try:
        recipient: recipients.RecipientRecord | None = recipients.get(store, record.recipient_id)
    except NotFoundError:
        recipient = None
    entries = _inquiry_entries(store, record)
    versions: list[AnswerVersion] = []
    for e in entries:
        if e.get("kind") == "inquiry" and e.get("event") == "answered":
            answers = e.get("answers") or {}
            previous = versions[-1].answers if versions else {}
            changed = tuple(k for k in answers if previous.get(k) != answers.get(k))
            stamp = datetime.fromisoformat(str(e["recorded_at"]))
            # The store numbers versions (and records the number) once answers are versioned.
            number = int(e.get("version") or len(versions) + 1)
            versions.append(AnswerVersion(number, answers, stamp, changed))
    decisions = [e for e in entries if e.get("kind") == "decision"]
    basis = (decisions[-1].get("decision") or {}).get("basis") if decisions else None
    history = tuple(e for e in entries if e.get("kind") == "inquiry")
    return InquiryView(
        record,
        tuple(versions),
        recipient,
        basis,
        tuple(str(d.get("decision_id")) for d in decisions),
        history,
        tuple(_preview(record, recipient)),
    )


@dataclass(frozen=True, slots=True)
class QueueItem:
    inquiry: InquiryRecord
    basis: str
    waiting_since: datetime


@dataclass(frozen=True, slots=True)
class Queue:
    to_review: tuple[QueueItem, ...]  # answered: an officer decides
    awaiting_answers: dict[str, tuple[QueueItem, ...]]  # open, by the hold's basis
    screening: tuple[screening.Hit, ...]
    screening_available: bool


def _hold_bases(store: Store) -> dict[str, str]:
    """inquiry id -> the basis of the latest hold that pointed to it."""
    c = audit_entries.c
    with store.read() as conn:
        rows = conn.execute(
            select(c.body)
            .where(c.kind == "decision", c.verdict == "hold")
            .order_by(c.seq.desc())
            .limit(SCAN_LIMIT)
        ).all()
    out: dict[str, str] = {}
    for (body,) in rows:
        payload = json.loads(body)
        inquiry_id = payload.get("inquiry_id")
        if inquiry_id and inquiry_id not in out:
            out[str(inquiry_id)] = str((payload.get("decision") or {}).get("basis") or "")
    return out


def queue(store: Store) -> Queue:
    open_ones = [r for r in inquiries.list_all(store) if r.status in inquiries.OPEN_STATES]
    bases = _hold_bases(store)
    to_review: list[QueueItem] = []
    waiting: dict[str, list[QueueItem]] = {}
    for r in open_ones:
        basis = bases.get(r.id, "unknown")
        if r.status == "answered":
            to_review.append(QueueItem(r, basis, r.answered_at or r.opened_at))
        else:
            waiting.setdefault(basis, []).append(QueueItem(r, basis, r.opened_at))
    hits, available = screening.pending(store)
    return Queue(
        tuple(sorted(to_review, key=lambda i: i.waiting_since)),
        {b: tuple(sorted(v, key=lambda i: i.waiting_since)) for b, v in sorted(waiting.items())},
        hits,
        available,
    )


def inquiry_list(store: Store, status: str | None, recipient_id: str | None) -> list[InquiryRecord]:
    """Inquiries of any state, newest first."""
    found = inquiries.list_all(store, status=status, recipient_id=recipient_id)
    return sorted(found, key=lambda r: r.opened_at, reverse=True)


def review(
    store: Store,
    inquiry_id: str,
    *,
    approve: bool,
    officer: str,
    note: str,
    version: int,
    digest: str,
) -> InquiryRecord:
    """Approve or reject exactly the answers the officer was shown.

    `version` and `digest` come from the page the officer read; when the answers changed since,
    nothing is applied. The store binds the approval itself when its `review` takes a version
    (the records work on answer versions); until then this check is made just before the call.
    """
    if not note.strip():
        raise InputError("note", "say why (the note goes to the audit chain)")
    current = inquiry(store, inquiry_id)
    if current.version != version or current.digest != digest:
        raise InputError(
            "version",
            f"the answers changed after you read them (now version {current.version}); "
            "read them again before deciding",
        )
    kwargs: dict[str, Any] = {}
    if "version" in inspect.signature(inquiries.review).parameters:
        kwargs["version"] = version
    return inquiries.review(
        store, inquiry_id, approve=approve, reviewer=officer, note=note.strip(), **kwargs
    )


# -- recipients, licenses, models ---------------------------------------------------------------


def recipient_list(store: Store) -> list[recipients.RecipientRecord]:
    return recipients.list_all(store)


def recipient_detail(store: Store, recipient_id: str) -> dict[str, Any]:
    record = recipients.get(store, recipient_id)
    return {
        "recipient": record,
        "licenses": licenses.list_all(store, recipient_id=recipient_id),
        "credentials": credentials.list_for(store, recipient_id),
        "inquiries": inquiries.list_all(store, recipient_id=recipient_id),
        "screening": screening.statuses(store, recipient_id),
    }


def license_list(store: Store) -> list[licenses.LicenseRecord]:
    return licenses.list_all(store)


def model_list(store: Store) -> list[str]:
    """Every repository the records know: classified, designated or overridden."""
    found: set[str] = set()
    with store.read() as conn:
        for table in (model_records, designations, model_overrides):
            found.update(str(r) for r in conn.execute(select(table.c.repo_id).distinct()).scalars())
    return sorted(found)


def model_detail(store: Store, repo_id: str) -> dict[str, Any]:
    return models.show(store, repo_id)


def classify(store: Store, repo_id: str, *, officer: str, reason: str, **given: Any) -> None:
    models.classify(store, repo_id, actor=officer, reason=reason, **given)


def designate(store: Store, repo_id: str, *, officer: str, reason: str, source: str | None) -> None:
    models.designate(store, repo_id, reason=reason, actor=officer, source=source)


def record_action(store: Store, officer: str, action: str, details: Mapping[str, Any]) -> None:
    """An officer's console action that no store call records by itself (e.g. verify now)."""
    audit.append_now(store, "admin", {"action": action, "actor": officer, **details})


def checkpoint_now(store: Store, officer: str) -> int:
    """Sign a checkpoint at the head now (recorded with the officer's name, then signed again so
    the checkpoint covers that record too); InputError when the gate has no signing key here."""
    if store.signer is None:
        raise InputError("checkpoint", "this console has no signing key to sign checkpoints")
    record_action(store, officer, "console.audit_checkpoint", {})
    seq = audit.checkpoint_now(store)
    if seq is None:
        raise InputError("checkpoint", "nothing new to sign")
    return seq
