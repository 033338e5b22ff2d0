"""An inquiry as a value: the stored row, what the decision reads of it, and what people read.

The lifecycle (open, answer, review) and the queries live in `gate.store.inquiries`; this module
only shapes one record, so the API, the console and `--json` output show the same fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gate.core.questions import Question
from gate.core.values import Inquiry


@dataclass(frozen=True, slots=True)
class InquiryRecord:
    """One inquiry as stored; `to_core` is what a decision reads, `to_dict` what people read."""

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
    answers_version: int | None = None
    reviewed_version: int | None = None
    # Set on the record `review` returns: what the approval changed in the recipient's record,
    # {"field": {"from": ..., "to": ...}}.
    recipient_changes: Mapping[str, Any] = field(default_factory=dict)

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
            "answers_version": self.answers_version,
            "reviewed_version": self.reviewed_version,
            "recipient_changes": dict(self.recipient_changes),
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


def from_row(row: Any) -> InquiryRecord:
    """The record of one `inquiries` row (JSON columns decoded)."""
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
        row.answers_version,
        row.reviewed_version,
    )
