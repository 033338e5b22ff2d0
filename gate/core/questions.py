"""The questions a `hold` asks: stable codes for records and APIs, and the text a person reads."""

from __future__ import annotations

from enum import StrEnum


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
