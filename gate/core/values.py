"""The values the decision works on: frozen, validated on construction, free of I/O.

Countries here are already ISO 3166-1 alpha-2 codes; turning what a user typed into a code is the
edge's job (`gate.rules.countries`). Unknown facts are `None`: the decision never fills them in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from gate.errors import InputError


class Verdict(StrEnum):
    ALLOW = "allow"
    LICENSE_REQUIRED = "license_required"
    DENY = "deny"
    HOLD = "hold"


class Basis(StrEnum):
    """Why a verdict was reached; one per step of the decision procedure."""

    NOT_IN_FORCE = "not_in_force"
    NOT_MODEL_WEIGHTS = "not_model_weights"
    PUBLISHED = "published"
    BELOW_THRESHOLD = "below_threshold"
    LESS_CAPABLE_THAN_PUBLISHED = "less_capable_than_published"
    PUBLICATION_UNKNOWN = "publication_unknown"
    COMPUTE_UNDETERMINED = "compute_undetermined"
    LICENSED = "licensed"
    PRESUMPTION_OF_DENIAL = "presumption_of_denial"
    PARTIES_UNKNOWN = "parties_unknown"
    DUTY_TO_INQUIRE = "duty_to_inquire"
    LICENSE_EXCEPTION_AIA = "license_exception_aia"
    LICENSE_EXCEPTION_AIA_WEIGHTS = "license_exception_aia_weights"
    SECURITY_ATTESTATION_REQUIRED = "security_attestation_required"
    LICENSE_REQUIRED = "license_required"
    DOMESTIC_TRANSFER = "domestic_transfer"
    # The `ear-embargoes` procedure (RULES.md "Beyond 4E091").
    RESTRICTED_PARTY = "restricted_party"
    COMPREHENSIVE_EMBARGO = "comprehensive_embargo"
    RESTRICTED_PARTY_REVIEW = "restricted_party_review"
    NO_EMBARGO = "no_embargo"


# Most restrictive first (RULES.md): across a set of rulesets the highest wins.
VERDICT_SEVERITY: Mapping[Verdict, int] = {
    Verdict.DENY: 3,
    Verdict.HOLD: 2,
    Verdict.LICENSE_REQUIRED: 1,
    Verdict.ALLOW: 0,
}


class Group(StrEnum):
    """Country groups, keyed by meaning (the two public numberings disagree)."""

    ALLIED = "allied"
    OTHER = "other"
    EMBARGOED = "embargoed"


# Most restrictive first: a step that tests several destinations uses the first that applies.
GROUP_SEVERITY: Mapping[Group, int] = {Group.EMBARGOED: 2, Group.OTHER: 1, Group.ALLIED: 0}

SELF: Literal["self"] = "self"
"""`Recipient.ultimate_parent` for a recipient with no parent: it is its own ultimate parent."""


_PLACE = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")

Screening = Literal["clear", "possible_match", "match"]
SCREENING_VALUES: tuple[Screening, ...] = ("clear", "possible_match", "match")


def _check_country(field_name: str, code: str | None) -> None:
    """A place is an ISO 3166-1 alpha-2 code (`DE`) or an ISO 3166-2 region code (`UA-43`)."""
    if code is not None and (not isinstance(code, str) or _PLACE.fullmatch(code) is None):
        raise InputError(
            field_name, f"expected an ISO 3166-1 alpha-2 or 3166-2 region code, got {code!r}"
        )


def _check_screening(field_name: str, value: str | None) -> None:
    if value is not None and value not in SCREENING_VALUES:
        raise InputError(
            field_name, f"expected clear, possible_match, match or null, got {value!r}"
        )


@dataclass(frozen=True, slots=True)
class ComputeInterval:
    """Training operations as an interval; either end may be unknown (`None`).

    `central` is the best single estimate when there is one; `method` names how the interval was
    obtained (declaration, counting, hardware, upper_bound, lineage, recorded, request).
    """

    low: float | None = None
    high: float | None = None
    central: float | None = None
    method: str = "unknown"
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("low", "high", "central"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"training_compute.{name}", f"expected a number, got {value!r}")
            if math.isnan(value) or math.isinf(value):
                raise InputError(f"training_compute.{name}", "must be a finite number")
            if value < 0:
                raise InputError(f"training_compute.{name}", f"must not be negative, got {value}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InputError(
                "training_compute", f"low ({self.low:g}) is above high ({self.high:g})"
            )

    @classmethod
    def exactly(cls, operations: float, method: str = "declared") -> ComputeInterval:
        return cls(low=operations, high=operations, central=operations, method=method)

    def wholly_below(self, threshold: float) -> bool:
        return self.high is not None and self.high < threshold

    def wholly_at_or_above(self, threshold: float) -> bool:
        return self.low is not None and self.low >= threshold


@dataclass(frozen=True, slots=True)
class Party:
    """An organisation named as someone's ultimate parent."""

    name: str
    headquarters: str | None = None
    screening: Screening | None = None

    def __post_init__(self) -> None:
        _check_country("ultimate_parent.headquarters", self.headquarters)
        _check_screening("ultimate_parent.screening", self.screening)


@dataclass(frozen=True, slots=True)
class Attestation:
    """The recipient's security attestation (Supplement No. 10 to Part 748 conditions)."""

    valid_until: date
    valid_from: date | None = None

    def current_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and day <= self.valid_until


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who receives the weights.

    `ultimate_parent` is a Party, SELF (no parent: its own ultimate parent), or None (unknown).
    `screening` is the restricted-party screening status (None: never screened).
    """

    name: str
    headquarters: str | None = None
    ultimate_parent: Party | Literal["self"] | None = None
    security_attestation: Attestation | None = None
    id: str | None = None
    screening: Screening | None = None

    def __post_init__(self) -> None:
        _check_country("recipient.headquarters", self.headquarters)
        _check_screening("recipient.screening", self.screening)

    @property
    def parent_screening(self) -> Screening | None:
        """The ultimate parent's screening status; the recipient's own when it has no parent."""
        if self.ultimate_parent is None:
            return None
        if self.ultimate_parent == SELF:
            return self.screening
        assert isinstance(self.ultimate_parent, Party)
        return self.ultimate_parent.screening

    @property
    def parent_headquarters(self) -> str | None:
        """The ultimate parent's headquarters; the recipient's own when it has no parent."""
        if self.ultimate_parent is None:
            return None
        if self.ultimate_parent == SELF:
            return self.headquarters
        assert isinstance(self.ultimate_parent, Party)
        return self.ultimate_parent.headquarters


@dataclass(frozen=True, slots=True)
class License:
    """A BIS license on record. `models` holds repo ids, or "4E091" for every controlled model."""

    number: str
    recipient: str
    models: tuple[str, ...]
    destinations: tuple[str, ...]
    valid_until: date
    valid_from: date | None = None

    def __post_init__(self) -> None:
        for code in self.destinations:
            _check_country(f"licenses[{self.number}].destinations", code)

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and day <= self.valid_until


InquiryStatus = Literal["open", "completed", "rejected"]


@dataclass(frozen=True, slots=True)
class Inquiry:
    """The duty-to-inquire record for this recipient and model, as far as the decision needs it."""

    status: InquiryStatus
    declared_destinations: tuple[str, ...] = ()
    id: str | None = None

    def __post_init__(self) -> None:
        if self.status not in ("open", "completed", "rejected"):
            raise InputError(
                "inquiry.status", f"expected open, completed or rejected, got {self.status!r}"
            )
        for code in self.declared_destinations:
            _check_country("inquiry.declared_destinations", code)

    @property
    def completed(self) -> bool:
        return self.status == "completed"


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What is known about one model revision.

    `published` is True, False, or None (unknown), with the evidence for it.
    `less_capable_than_published` is a recorded classification under 15 CFR 748.3(f).
    """

    repo_id: str
    revision: str | None = None
    commit: str | None = None
    designated: bool = False
    designation_reason: str | None = None
    published: bool | None = None
    publication_evidence: str | None = None
    training_compute: ComputeInterval = field(default_factory=ComputeInterval)
    less_capable_than_published: bool = False
    declaration_id: str | None = None


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """One transfer to decide: a file of a model (None: the weights as a whole) to a recipient."""

    date: date
    model: ModelFacts
    recipient: Recipient
    destination: str | None
    file: str | None = None
    trained_on_operator_infrastructure: bool = False
    licenses: tuple[License, ...] = ()
    inquiry: Inquiry | None = None

    def __post_init__(self) -> None:
        _check_country("destination", self.destination)


@dataclass(frozen=True, slots=True)
class Reason:
    """One line of a decision's explanation, with the provision it rests on."""

    code: str
    text: str
    citation: str


def _reasons_json(reasons: tuple[Reason, ...]) -> list[dict[str, str]]:
    return [{"code": r.code, "text": r.text, "citation": r.citation} for r in reasons]


@dataclass(frozen=True, slots=True)
class RulesetVerdict:
    """One ruleset's own answer within a decision taken under a set of rulesets."""

    id: str
    sha256: str
    verdict: Verdict
    basis: Basis
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "verdict": self.verdict.value,
            "basis": self.basis.value,
            "reasons": _reasons_json(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one transfer: a value, replayable from `facts` and the rulesets it names.

    `questions` lists what the gate needs to know before it can decide (only for `hold`).
    `ruleset_id`/`ruleset_sha256` name the ruleset that gave the basis; `parts` keeps every
    ruleset's own decision when the decision was taken under a set (empty for one ruleset), and
    `rulesets` their verdicts.
    `procedure_version` names the code that decided, so a replay can tell a changed rule from
    changed code.
    """

    verdict: Verdict
    basis: Basis
    reasons: tuple[Reason, ...]
    ruleset_id: str
    ruleset_sha256: str
    facts: Mapping[str, Any]
    license_used: str | None = None
    questions: tuple[str, ...] = ()
    procedure_version: str = ""
    parts: tuple[Decision, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    @property
    def rulesets(self) -> tuple[RulesetVerdict, ...]:
        """Each ruleset's own verdict, in set order (this decision's own for one ruleset)."""
        return tuple(p.own_verdict() for p in self.parts) or (self.own_verdict(),)

    def own_verdict(self) -> RulesetVerdict:
        """This decision as one ruleset's verdict (to combine it with others)."""
        return RulesetVerdict(
            self.ruleset_id, self.ruleset_sha256, self.verdict, self.basis, self.reasons
        )

    def to_dict(self) -> dict[str, Any]:
        """The public decision JSON (see README, "Decision JSON")."""
        rulesets = self.rulesets
        return {
            "verdict": self.verdict.value,
            "basis": self.basis.value,
            "reasons": _reasons_json(self.reasons),
            "questions": list(self.questions),
            "license_used": self.license_used,
            "ruleset": {"id": self.ruleset_id, "sha256": self.ruleset_sha256},
            "procedure_version": self.procedure_version,
            "rulesets": [r.to_dict() for r in rulesets],
            "facts": dict(self.facts),
        }
