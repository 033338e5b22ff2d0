"""An inquiry's answers: each checked and normalised, and what an approval writes to the record.

Countries become alpha-2 codes, dates ISO text; an answer of the wrong shape is an InputError
naming the question. Pure functions: `gate.store.inquiries` stores and reviews the answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from gate.core.questions import Question
from gate.errors import InputError
from gate.rules.countries import normalize_country


def _country(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InputError(field, "expected a country")
    return normalize_country(value, field)


def _date(value: Any, field: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InputError(field, f"expected a date YYYY-MM-DD, got {value!r}") from None


def validate_answer(code: str, value: Any) -> Any:
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


def recipient_fields(answers: Mapping[str, Any]) -> dict[str, Any]:
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
