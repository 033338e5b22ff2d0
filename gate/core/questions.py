"""The questions a `hold` asks: stable codes for records and APIs, and the text a person reads."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Question(StrEnum):
    PUBLICATION_STATUS = "publication_status"
    TRAINING_COMPUTE = "training_compute"
    RECIPIENT_HEADQUARTERS = "recipient_headquarters"
    ULTIMATE_PARENT = "ultimate_parent"
    DESTINATION = "destination"
    EXPORT_DESTINATIONS = "export_destinations"
    END_USE = "end_use"
    LICENSE_OBLIGATION_ACKNOWLEDGED = "license_obligation_acknowledged"
    SECURITY_ATTESTATION = "security_attestation"
    RESTRICTED_PARTY_REVIEW = "restricted_party_review"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def text(self) -> str:
        return _TEXTS[self]

    @property
    def answer_shape(self) -> dict[str, Any]:
        """The JSON an answer must have (a small JSON Schema with an example), for the recipient."""
        return _SHAPES[self]


_LABELS = {
    Question.PUBLICATION_STATUS: "publication status",
    Question.TRAINING_COMPUTE: "training compute",
    Question.RECIPIENT_HEADQUARTERS: "recipient headquarters",
    Question.ULTIMATE_PARENT: "ultimate parent and its headquarters",
    Question.DESTINATION: "destination",
    Question.EXPORT_DESTINATIONS: "intended export destinations",
    Question.END_USE: "end use",
    Question.LICENSE_OBLIGATION_ACKNOWLEDGED: "acknowledgment of the license obligation",
    Question.SECURITY_ATTESTATION: "security attestation",
    Question.RESTRICTED_PARTY_REVIEW: "restricted-party screening review",
}

_TEXTS = {
    Question.PUBLICATION_STATUS: "Are these weights published, that is available to the public "
    "without restriction on further dissemination?",
    Question.TRAINING_COMPUTE: "How many operations were used to train these weights, including "
    "the base model's? A signed compute declaration settles it.",
    Question.RECIPIENT_HEADQUARTERS: "In which country is the recipient headquartered?",
    Question.ULTIMATE_PARENT: "Who is the recipient's ultimate parent (or does it have none), and "
    "where is it headquartered?",
    Question.DESTINATION: "To which country will the weights go?",
    Question.EXPORT_DESTINATIONS: "Does the recipient intend to export or reexport the weights, "
    "and to which countries?",
    Question.END_USE: "What is the intended end use of the weights?",
    Question.LICENSE_OBLIGATION_ACKNOWLEDGED: "Does the recipient acknowledge that exporting "
    "these weights may require a license under ECCN 4E091?",
    Question.SECURITY_ATTESTATION: "Provide a current attestation that the recipient meets the "
    "security conditions of Supplement No. 10 to Part 748.",
    Question.RESTRICTED_PARTY_REVIEW: "Screen the recipient and its ultimate parent against the "
    "Consolidated Screening List, and have an officer review any possible match.",
}

_COUNTRY: dict[str, Any] = {
    "type": "string",
    "description": "a country: ISO 3166 code or name",
    "example": "DE",
}


def _text_shape(example: str) -> dict[str, Any]:
    return {"type": "string", "description": "free text, not empty", "example": example}


_SHAPES: dict[Question, dict[str, Any]] = {
    Question.PUBLICATION_STATUS: _text_shape("not published; shared under NDA with partners"),
    Question.TRAINING_COMPUTE: _text_shape("about 3e24 operations, base model included"),
    Question.RECIPIENT_HEADQUARTERS: _COUNTRY,
    Question.ULTIMATE_PARENT: {
        "oneOf": [
            {"const": "none", "description": "the recipient has no parent"},
            {
                "type": "object",
                "required": ["name", "headquarters"],
                "properties": {"name": {"type": "string"}, "headquarters": _COUNTRY},
            },
        ],
        "example": {"name": "Example Holdings Inc", "headquarters": "US"},
    },
    Question.DESTINATION: _COUNTRY,
    Question.EXPORT_DESTINATIONS: {
        "type": "array",
        "items": _COUNTRY,
        "description": "every country the weights will go to; [] when no export is intended",
        "example": ["US"],
    },
    Question.END_USE: _text_shape("research on code completion"),
    Question.LICENSE_OBLIGATION_ACKNOWLEDGED: {"type": "boolean", "example": True},
    Question.SECURITY_ATTESTATION: {
        "type": "object",
        "required": ["valid_until"],
        "properties": {
            "valid_until": {"type": "string", "format": "date"},
            "valid_from": {"type": "string", "format": "date"},
            "reference": {"type": "string"},
        },
        "example": {"valid_until": "2027-06-30", "reference": "audit report 2026-14"},
    },
}
