"""The duty to inquire: questions a `hold` asks, the recipient's answers, the officer's review.

An inquiry belongs to one recipient and one model. A hold opens one (or reuses the open one for
the same pair, adding any new questions); the recipient answers; a compliance officer approves
(the answers become the recipient's facts and the inquiry is completed, so the next decision
uses them) or rejects. Status: open -> answered -> completed | rejected; to the core an answered
inquiry is still open. Every step is an entry in the audit chain.

Answers are versioned (1 = the first submission; every re-answer adds one, all kept in
`inquiry_answers`). A review binds to a version: `review(..., version=N)` applies exactly the
answers of version N and refuses when a newer one exists; without a version it refuses once the
answers changed after their first submission. Answer and review lock the inquiry row (FOR UPDATE
on PostgreSQL; SQLite's write lock), so an answer racing an approval either lands before it (and
the approval of the older version is refused) or after it (and is refused: a reviewed inquiry's
answers cannot change).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from gate.core.canonical import canonical_json
from gate.core.questions import Question
from gate.errors import InputError, NotFoundError
from gate.store import audit, recipients
from gate.store.answers import recipient_fields, validate_answer
from gate.store.db import Store
from gate.store.inquiry_record import InquiryRecord, from_row
from gate.store.repos import repo_key
from gate.store.schema import inquiries as t
from gate.store.schema import inquiry_answers as versions

OPEN_STATES = ("open", "answered")


# Built once: every hold of a recipient on a model looks its open inquiry up, inside the
# decision's transaction (plain parameters, so the compiled statement is reused as it is).
_OPEN_FOR = (
    select(t.c.id, t.c.questions)
    .where(
        t.c.recipient_id == bindparam("recipient"),
        t.c.repo_id == bindparam("repo"),
        or_(*(t.c.status == state for state in OPEN_STATES)),
    )
    .order_by(t.c.opened_at.desc())
    .limit(1)
)


def open_or_reuse(
    conn: Connection,
    store: Store,
    recipient_id: str,
    repo_id: str,
    questions: Sequence[str],
    *,
    decision_id: str | None = None,
    grow: bool = True,
) -> str | None:
    """The id of the open inquiry for (recipient, model), opening one when there is none.

    Runs inside the caller's transaction, so the decision and the inquiry commit together.
    `grow=False`: None (nothing written) when the open inquiry lacks some of `questions`, for
    a caller whose transaction already holds the audit head: adding them locks the inquiry's
    row, which an answer or a review locks before the head (a deadlock across replicas).
    """
    repo_id = repo_key(repo_id)
    row = conn.execute(_OPEN_FOR, {"recipient": recipient_id, "repo": repo_id}).first()
    if row is not None:
        current = tuple(json.loads(row.questions))
        new = [q for q in questions if q not in current]
        if new and not grow:
            return None
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


def _require(conn: Connection, inquiry_id: str, *, lock: bool = False) -> InquiryRecord:
    query = select(t).where(t.c.id == inquiry_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"unknown inquiry {inquiry_id!r}")
    return from_row(row)


def _answers_of(conn: Connection, inquiry_id: str, version: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(versions.c.answers).where(
            versions.c.inquiry_id == inquiry_id, versions.c.version == version
        )
    ).first()
    return None if row is None else dict(json.loads(row.answers))


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
        record = _require(conn, inquiry_id, lock=True)
        if recipient_id is not None and record.recipient_id != recipient_id:
            raise NotFoundError(f"unknown inquiry {inquiry_id!r}")  # do not reveal others'
        if record.status not in OPEN_STATES:
            raise InputError(
                "inquiry",
                f"inquiry {inquiry_id} is {record.status}: its answers can no longer change",
            )
        extra = sorted(set(answers) - set(record.questions))
        if extra:
            raise InputError(
                f"answers.{extra[0]}",
                "not a question of this inquiry; its questions are " + ", ".join(record.questions),
            )
        missing = [q for q in record.questions if q not in answers]
        if missing:
            raise InputError("answers", "missing answers to: " + ", ".join(missing))
        cleaned = {code: validate_answer(code, answers[code]) for code in record.questions}
        now = store.now()
        version = (record.answers_version or 0) + 1
        text = canonical_json(cleaned).decode()
        conn.execute(
            insert(versions),
            {
                "inquiry_id": inquiry_id,
                "version": version,
                "answers": text,
                "answered_by": by,
                "answered_at": now,
            },
        )
        conn.execute(
            update(t)
            .where(t.c.id == inquiry_id)
            .values(status="answered", answers=text, answered_at=now, answers_version=version)
        )
        audit.append(
            conn,
            store,
            "inquiry",
            {
                "event": "answered",
                "inquiry_id": inquiry_id,
                "by": by,
                "answers": cleaned,
                "version": version,
            },
            recipient_id=record.recipient_id,
            repo_id=record.repo_id,
        )
        return _require(conn, inquiry_id)


def review(
    store: Store,
    inquiry_id: str,
    *,
    approve: bool,
    reviewer: str,
    note: str,
    version: int | None = None,
) -> InquiryRecord:
    """Approve (the answers of `version` become the recipient's facts; completed) or reject an
    answered inquiry. The returned record's `recipient_changes` says what the approval changed.

    InputError, nothing written, when: the answers changed after their first submission and no
    `version` was named; a newer version exists than the one named; the named one does not exist.
    """
    with store.write() as conn:
        record = _require(conn, inquiry_id, lock=True)
        if record.status != "answered":
            raise InputError(
                "inquiry",
                f"inquiry {inquiry_id} is {record.status}; only answered ones are reviewed",
            )
        current = record.answers_version or 1
        _check_version(inquiry_id, current, version)
        answers = _answers_of(conn, inquiry_id, current) or dict(record.answers or {})
        ack = Question.LICENSE_OBLIGATION_ACKNOWLEDGED.value
        if approve and ack in record.questions and answers.get(ack) is not True:
            raise InputError(
                "inquiry", "the recipient did not acknowledge the license obligation; reject it"
            )
        changes: dict[str, Any] = {}
        if approve:
            applied = recipient_fields(answers)
            if applied:
                changes = recipients.apply_in(conn, store, record.recipient_id, applied)
        conn.execute(
            update(t)
            .where(t.c.id == inquiry_id)
            .values(
                status="completed" if approve else "rejected",
                reviewed_by=reviewer,
                review_note=note,
                reviewed_at=store.now(),
                reviewed_version=current,
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
                "version": current,
                "answers": answers,
                "recipient_changes": changes,
            },
            recipient_id=record.recipient_id,
            repo_id=record.repo_id,
        )
        return replace(_require(conn, inquiry_id), recipient_changes=changes)


def _check_version(inquiry_id: str, current: int, named: int | None) -> None:
    if named is None:
        if current > 1:
            raise InputError(
                "version",
                f"the answers of inquiry {inquiry_id} changed after their first submission "
                f"(now version {current}): show it and name the version you reviewed "
                f"(--version {current})",
            )
        return
    if named < current:
        raise InputError(
            "version",
            f"a newer version of the answers exists (version {current}) than the one named "
            f"({named}): review version {current}",
        )
    if named > current:
        raise InputError("version", f"inquiry {inquiry_id} has no answers version {named}")


def answers_version(store: Store, inquiry_id: str, version: int) -> dict[str, Any]:
    """The answers as submitted in `version` (NotFoundError when there is no such version)."""
    with store.read() as conn:
        _require(conn, inquiry_id)
        found = _answers_of(conn, inquiry_id, version)
    if found is None:
        raise NotFoundError(f"inquiry {inquiry_id} has no answers version {version}")
    return found


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
        return [from_row(r) for r in conn.execute(query)]


_FOR_PAIR = select(t).where(
    t.c.recipient_id == bindparam("recipient_id"), t.c.repo_id == bindparam("repo_id")
)


def latest_for(conn: Connection, recipient_id: str, repo_id: str) -> InquiryRecord | None:
    """The inquiry the decision takes into account for (recipient, model).

    The newest completed one when there is one (its answers stay true while a later inquiry,
    say about an attestation, is open), else the newest of any status.
    """
    key = repo_key(repo_id)
    rows = [
        from_row(r) for r in conn.execute(_FOR_PAIR, {"recipient_id": recipient_id, "repo_id": key})
    ]
    if not rows:
        return None
    completed = [r for r in rows if r.status == "completed"]
    pool = completed or rows
    return max(pool, key=lambda r: (r.reviewed_at or r.opened_at, r.opened_at))
