"""The duty to inquire: questions a `hold` asks, the recipient's answers, the officer's review.

An inquiry belongs to one recipient and one model. A hold opens one (or reuses the open one for
the same pair, adding any new questions); the recipient answers; a compliance officer approves
(the answers become the recipient's facts and the inquiry is completed, so the next decision
uses them) or rejects. Status: open -> answered -> completed | rejected; to the core an answered
inquiry is still open. Every step is an entry in the audit chain.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from gate.core.canonical import canonical_json
from gate.core.questions import Question
from gate.core.values import Inquiry
from gate.errors import InputError, NotFoundError
from gate.rules.countries import normalize_country
from gate.store import audit, recipients
from gate.store.db import Store
from gate.store.schema import inquiries as t

OPEN_STATES = ("open", "answered")


@dataclass(frozen=True, slots=True)
class InquiryRecord:
    id: str
    recipient_id: str
    repo_id: str
    status: str
    questions: tuple[str, ...]
    answers: Mapping[str, Any] | None
    opened_at: datetime
    answered_at: datetime | None
    reviewed_by: str | None
    review_note: str | None
    reviewed_at: datetime | None

    def to_core(self) -> Inquiry:
        status = "completed" if self.status == "completed" else self.status
        if status == "answered":
            status = "open"
        declared: tuple[str, ...] = ()
        if self.status == "completed" and self.answers:
            declared = tuple(self.answers.get(Question.EXPORT_DESTINATIONS.value) or ())
        return Inquiry(status, declared, self.id)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recipient_id": self.recipient_id,
            "repo_id": self.repo_id,
            "status": self.status,
            "questions": [
                {"id": q, "label": _label(q), "text": _text(q), "answer_shape": _shape(q)}
                for q in self.questions
            ],
            "answers": dict(self.answers) if self.answers is not None else None,
            "opened_at": _iso(self.opened_at),
            "answered_at": _iso(self.answered_at),
            "reviewed_by": self.reviewed_by,
            "review_note": self.review_note,
            "reviewed_at": _iso(self.reviewed_at),
        }


def _iso(moment: datetime | None) -> str | None:
    """JSON-ready times: the API and `--json` output share this dict."""
    return None if moment is None else moment.isoformat()


def _label(code: str) -> str:
    try:
        return Question(code).label
    except ValueError:
        return code


def _text(code: str) -> str:
    try:
        return Question(code).text
    except ValueError:
        return code


def _shape(code: str) -> dict[str, Any]:
    try:
        return Question(code).answer_shape
    except ValueError:
        return {"type": "string"}


def _record(row: Any) -> InquiryRecord:
    return InquiryRecord(
        row.id,
        row.recipient_id,
        row.repo_id,
        row.status,
        tuple(json.loads(row.questions)),
        None if row.answers is None else json.loads(row.answers),
        row.opened_at,
        row.answered_at,
        row.reviewed_by,
        row.review_note,
        row.reviewed_at,
    )


def open_or_reuse(
    conn: Connection,
    store: Store,
    recipient_id: str,
    repo_id: str,
    questions: Sequence[str],
    *,
    decision_id: str | None = None,
) -> str:
    """The id of the open inquiry for (recipient, model), opening one when there is none.

    Runs inside the caller's transaction, so the decision and the inquiry commit together.
    """
    row = conn.execute(
        select(t)
        .where(
            t.c.recipient_id == recipient_id, t.c.repo_id == repo_id, t.c.status.in_(OPEN_STATES)
        )
        .order_by(t.c.opened_at.desc())
    ).first()
    if row is not None:
        current = tuple(json.loads(row.questions))
        new = [q for q in questions if q not in current]
        if new:
            merged = canonical_json([*current, *new]).decode()
            # New questions reopen an answered inquiry: the answers no longer cover everything.
            conn.execute(update(t).where(t.c.id == row.id).values(questions=merged, status="open"))
            audit.append(
                conn,
                store,
                "inquiry",
                {
                    "event": "questions_added",
                    "inquiry_id": row.id,
                    "questions": new,
                    "decision_id": decision_id,
                },
                recipient_id=recipient_id,
                repo_id=repo_id,
            )
        return str(row.id)
    inquiry_id = f"inq_{secrets.token_hex(8)}"
    conn.execute(
        insert(t),
        {
            "id": inquiry_id,
            "recipient_id": recipient_id,
            "repo_id": repo_id,
            "status": "open",
            "questions": canonical_json(list(dict.fromkeys(questions))).decode(),
            "opened_at": store.now(),
        },
    )
    audit.append(
        conn,
        store,
        "inquiry",
        {
            "event": "opened",
            "inquiry_id": inquiry_id,
            "questions": list(questions),
            "decision_id": decision_id,
        },
        recipient_id=recipient_id,
        repo_id=repo_id,
    )
    return inquiry_id


def _country(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InputError(field, "expected a country")
    return normalize_country(value, field)


def _date(value: Any, field: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InputError(field, f"expected a date YYYY-MM-DD, got {value!r}") from None


def _validate(code: str, value: Any) -> Any:
    """One answer, checked and normalised (countries to alpha-2, dates to ISO)."""
    field = f"answers.{code}"
    if code in (Question.RECIPIENT_HEADQUARTERS, Question.DESTINATION):
        return _country(value, field)
    if code == Question.ULTIMATE_PARENT:
        if value in ("none", "self", None):
            return "none"
        if not isinstance(value, Mapping) or not str(value.get("name") or "").strip():
            raise InputError(field, 'expected "none" or {"name": ..., "headquarters": ...}')
        return {
            "name": str(value["name"]).strip(),
            "headquarters": _country(value.get("headquarters"), f"{field}.headquarters"),
        }
    if code == Question.EXPORT_DESTINATIONS:
        if not isinstance(value, list):
            raise InputError(field, "expected a list of countries (empty: no export intended)")
        return sorted({_country(v, field) for v in value})
    if code == Question.LICENSE_OBLIGATION_ACKNOWLEDGED:
        if not isinstance(value, bool):
            raise InputError(field, "expected true or false")
        return value
    if code == Question.SECURITY_ATTESTATION:
        if not isinstance(value, Mapping) or "valid_until" not in value:
            raise InputError(field, 'expected {"valid_until": "YYYY-MM-DD", ...}')
        out = {"valid_until": _date(value["valid_until"], f"{field}.valid_until")}
        if value.get("valid_from"):
            out["valid_from"] = _date(value["valid_from"], f"{field}.valid_from")
        if value.get("reference"):
            out["reference"] = str(value["reference"])
        return out
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "expected a non-empty text")
    return value.strip()


def _require(conn: Connection, inquiry_id: str) -> InquiryRecord:
    row = conn.execute(select(t).where(t.c.id == inquiry_id)).first()
    if row is None:
        raise NotFoundError(f"unknown inquiry {inquiry_id!r}")
    return _record(row)


def answer(
    store: Store,
    inquiry_id: str,
    answers: Mapping[str, Any],
    *,
    by: str,
    recipient_id: str | None = None,
) -> InquiryRecord:
    """Record the recipient's answers (all questions, nothing else). `recipient_id`, when given
    (the API's caller), must own the inquiry."""
    with store.write() as conn:
        record = _require(conn, inquiry_id)
        if recipient_id is not None and record.recipient_id != recipient_id:
            raise NotFoundError(f"unknown inquiry {inquiry_id!r}")  # do not reveal others'
        if record.status not in OPEN_STATES:
            raise InputError("inquiry", f"inquiry {inquiry_id} is {record.status}")
        extra = sorted(set(answers) - set(record.questions))
        if extra:
            raise InputError(
                f"answers.{extra[0]}",
                "not a question of this inquiry; its questions are " + ", ".join(record.questions),
            )
        missing = [q for q in record.questions if q not in answers]
        if missing:
            raise InputError("answers", "missing answers to: " + ", ".join(missing))
        cleaned = {code: _validate(code, answers[code]) for code in record.questions}
        now = store.now()
        conn.execute(
            update(t)
            .where(t.c.id == inquiry_id)
            .values(status="answered", answers=canonical_json(cleaned).decode(), answered_at=now)
        )
        audit.append(
            conn,
            store,
            "inquiry",
            {"event": "answered", "inquiry_id": inquiry_id, "by": by, "answers": cleaned},
            recipient_id=record.recipient_id,
            repo_id=record.repo_id,
        )
        return _require(conn, inquiry_id)


def _recipient_fields(answers: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if Question.RECIPIENT_HEADQUARTERS.value in answers:
        fields["headquarters"] = answers[Question.RECIPIENT_HEADQUARTERS.value]
    parent = answers.get(Question.ULTIMATE_PARENT.value)
    if parent == "none":
        fields["parent"] = "self"
    elif isinstance(parent, Mapping):
        fields["parent"] = (parent["name"], parent["headquarters"])
    if Question.DESTINATION.value in answers:
        fields["default_destination"] = answers[Question.DESTINATION.value]
    att = answers.get(Question.SECURITY_ATTESTATION.value)
    if isinstance(att, Mapping):
        fields["attestation"] = (
            date.fromisoformat(att["valid_until"]),
            date.fromisoformat(att["valid_from"]) if att.get("valid_from") else None,
            att.get("reference"),
        )
    return fields


def review(
    store: Store, inquiry_id: str, *, approve: bool, reviewer: str, note: str
) -> InquiryRecord:
    """Approve (answers become the recipient's facts; completed) or reject an answered inquiry."""
    with store.write() as conn:
        record = _require(conn, inquiry_id)
        if record.status != "answered":
            raise InputError(
                "inquiry",
                f"inquiry {inquiry_id} is {record.status}; only answered ones are reviewed",
            )
        answers = record.answers or {}
        ack = Question.LICENSE_OBLIGATION_ACKNOWLEDGED.value
        if approve and ack in record.questions and answers.get(ack) is not True:
            raise InputError(
                "inquiry", "the recipient did not acknowledge the license obligation; reject it"
            )
        applied: dict[str, Any] = {}
        if approve:
            applied = _recipient_fields(answers)
            if applied:
                recipients.apply_in(conn, store, record.recipient_id, applied)
        conn.execute(
            update(t)
            .where(t.c.id == inquiry_id)
            .values(
                status="completed" if approve else "rejected",
                reviewed_by=reviewer,
                review_note=note,
                reviewed_at=store.now(),
            )
        )
        audit.append(
            conn,
            store,
            "inquiry",
            {
                "event": "approved" if approve else "rejected",
                "inquiry_id": inquiry_id,
                "reviewer": reviewer,
                "note": note,
                "recipient_changes": applied,
            },
            recipient_id=record.recipient_id,
            repo_id=record.repo_id,
        )
        return _require(conn, inquiry_id)


def get(store: Store, inquiry_id: str) -> InquiryRecord:
    with store.read() as conn:
        return _require(conn, inquiry_id)


def list_all(
    store: Store, *, status: str | None = None, recipient_id: str | None = None
) -> list[InquiryRecord]:
    with store.read() as conn:
        query = select(t).order_by(t.c.opened_at)
        if status is not None:
            query = query.where(t.c.status == status)
        if recipient_id is not None:
            query = query.where(t.c.recipient_id == recipient_id)
        return [_record(r) for r in conn.execute(query)]


_FOR_PAIR = select(t).where(
    t.c.recipient_id == bindparam("recipient_id"), t.c.repo_id == bindparam("repo_id")
)


def latest_for(conn: Connection, recipient_id: str, repo_id: str) -> InquiryRecord | None:
    """The inquiry the decision takes into account for (recipient, model).

    The newest completed one when there is one (its answers stay true while a later inquiry,
    say about an attestation, is open), else the newest of any status.
    """
    rows = [
        _record(r)
        for r in conn.execute(_FOR_PAIR, {"recipient_id": recipient_id, "repo_id": repo_id})
    ]
    if not rows:
        return None
    completed = [r for r in rows if r.status == "completed"]
    pool = completed or rows
    return max(pool, key=lambda r: (r.reviewed_at or r.opened_at, r.opened_at))
