"""The public request JSON (README, "Request JSON"): parsed strictly, converted to core values.

Pydantic lives here at the edge; the core sees only frozen values with alpha-2 country codes.
Every error names the field as a dotted path (`recipient.ultimate_parent.headquarters`).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gate.core.values import (
    SELF,
    Attestation,
    ComputeInterval,
    Inquiry,
    License,
    ModelFacts,
    Party,
    Recipient,
    TransferRequest,
)
from gate.errors import GateError, InputError
from gate.model_codec import model_facts_to_dict
from gate.rules.countries import normalize_country


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ComputeIn(_Strict):
    low: float | None = None
    high: float | None = None
    central: float | None = None
    operations: float | None = None
    method: str | None = None
    evidence: list[str] = []

    @field_validator("low", "high", "central", "operations")
    @classmethod
    def _non_negative(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            raise ValueError(f"must not be negative, got {value:g}")
        return value


class ModelIn(_Strict):
    repo_id: str = Field(min_length=1)
    revision: str | None = None
    commit: str | None = None
    designated: bool = False
    designation_reason: str | None = None
    published: bool | None = None
    publication_evidence: str | None = None
    training_compute: ComputeIn | None = None
    less_capable_than_published: bool = False
    declaration_id: str | None = None


ScreeningIn = Literal["clear", "possible_match", "match"]


class PartyIn(_Strict):
    name: str = Field(min_length=1)
    headquarters: str | None = None
    screening: ScreeningIn | None = None


class AttestationIn(_Strict):
    valid_until: date
    valid_from: date | None = None


class RecipientIn(_Strict):
    name: str = Field(min_length=1)
    id: str | None = None
    headquarters: str | None = None
    ultimate_parent: PartyIn | Literal["self"] | None = None
    security_attestation: AttestationIn | None = None
    screening: ScreeningIn | None = None


class InquiryIn(_Strict):
    status: Literal["open", "completed", "rejected"]
    declared_destinations: list[str] = []
    id: str | None = None


class LicenseIn(_Strict):
    number: str = Field(min_length=1)
    recipient: str = Field(min_length=1)
    models: list[str] = Field(min_length=1)
    destinations: list[str] = Field(min_length=1)
    valid_until: date
    valid_from: date | None = None


class RequestIn(_Strict):
    date: date
    model: ModelIn
    recipient: RecipientIn
    destination: str | None = None
    file: str | None = None
    trained_on_operator_infrastructure: bool = False
    inquiry: InquiryIn | None = None
    licenses: list[LicenseIn] = []


def _country(value: str | None, field: str) -> str | None:
    return None if value is None else normalize_country(value, field)


def _compute(value: ComputeIn | None) -> ComputeInterval:
    if value is None:
        return ComputeInterval()
    method = value.method if value.method is not None else "request"
    evidence = tuple(value.evidence)
    if value.operations is not None:
        if value.low is not None or value.high is not None:
            raise InputError("model.training_compute", "give either operations or low/high")
        ops = value.operations
        return ComputeInterval(ops, ops, ops, method, evidence)
    try:
        return ComputeInterval(value.low, value.high, value.central, method, evidence)
    except InputError as exc:
        raise InputError(f"model.{exc.field}", exc.problem) from None


def to_request(parsed: RequestIn) -> TransferRequest:
    """Convert a validated request to core values, normalising every country."""
    r = parsed.recipient
    parent: Party | Literal["self"] | None
    if r.ultimate_parent is None:
        parent = None
    elif r.ultimate_parent == SELF:
        parent = SELF
    else:
        assert isinstance(r.ultimate_parent, PartyIn)
        parent = Party(
            r.ultimate_parent.name,
            _country(r.ultimate_parent.headquarters, "recipient.ultimate_parent.headquarters"),
            r.ultimate_parent.screening,
        )
    recipient = Recipient(
        name=r.name,
        id=r.id,
        headquarters=_country(r.headquarters, "recipient.headquarters"),
        ultimate_parent=parent,
        security_attestation=None
        if r.security_attestation is None
        else Attestation(r.security_attestation.valid_until, r.security_attestation.valid_from),
        screening=r.screening,
    )
    m = parsed.model
    model = ModelFacts(
        repo_id=m.repo_id,
        revision=m.revision,
        commit=m.commit,
        designated=m.designated,
        designation_reason=m.designation_reason,
        published=m.published,
        publication_evidence=m.publication_evidence,
        training_compute=_compute(m.training_compute),
        less_capable_than_published=m.less_capable_than_published,
        declaration_id=m.declaration_id,
    )
    licenses = tuple(
        License(
            number=lic.number,
            recipient=lic.recipient,
            models=tuple(lic.models),
            destinations=tuple(
                normalize_country(d, f"licenses[{i}].destinations") for d in lic.destinations
            ),
            valid_until=lic.valid_until,
            valid_from=lic.valid_from,
        )
        for i, lic in enumerate(parsed.licenses)
    )
    inquiry = None
    if parsed.inquiry is not None:
        inquiry = Inquiry(
            status=parsed.inquiry.status,
            declared_destinations=tuple(
                normalize_country(d, "inquiry.declared_destinations")
                for d in parsed.inquiry.declared_destinations
            ),
            id=parsed.inquiry.id,
        )
    return TransferRequest(
        date=parsed.date,
        model=model,
        recipient=recipient,
        destination=_country(parsed.destination, "destination"),
        file=parsed.file,
        trained_on_operator_infrastructure=parsed.trained_on_operator_infrastructure,
        licenses=licenses,
        inquiry=inquiry,
    )


def _validation_message(exc: ValidationError) -> InputError:
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    # Union members appear in the location (e.g. "PartyIn", "literal['self']"); a reader wants
    # only the field path.
    path = ".".join(
        p for p in loc if not p[:1].isupper() and not p.startswith(("literal[", "function"))
    )
    kind = error["type"]
    if kind == "extra_forbidden":
        problem = "unknown field"
    elif kind == "missing":
        problem = "required field is missing"
    else:
        problem = str(error["msg"]).removeprefix("Value error, ")
    return InputError(path or "request", problem)


def parse_request(data: Any) -> TransferRequest:
    """Validate request JSON (already decoded) and convert it; InputError names the field."""
    if not isinstance(data, dict):
        raise InputError("request", "expected a JSON object")
    try:
        parsed = RequestIn.model_validate(data)
    except ValidationError as exc:
        raise _validation_message(exc) from None
    return to_request(parsed)


def parse_request_json(text: str | bytes, source: str = "request") -> TransferRequest:
    """Decode and parse request JSON text; broken JSON is an InputError naming line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            source, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise InputError(source, "not valid UTF-8") from None
    return parse_request(data)


def request_to_dict(request: TransferRequest) -> dict[str, Any]:
    """The request JSON for a core request: `parse_request(request_to_dict(r)) == r`."""
    model = request.model
    recipient = request.recipient
    parent = recipient.ultimate_parent
    return {
        "date": request.date.isoformat(),
        "file": request.file,
        "model": model_facts_to_dict(model),
        "recipient": {
            "name": recipient.name,
            "id": recipient.id,
            "headquarters": recipient.headquarters,
            "ultimate_parent": parent
            if parent is None or isinstance(parent, str)
            else {
                "name": parent.name,
                "headquarters": parent.headquarters,
                "screening": parent.screening,
            },
            "security_attestation": None
            if recipient.security_attestation is None
            else {
                "valid_until": recipient.security_attestation.valid_until.isoformat(),
                "valid_from": None
                if recipient.security_attestation.valid_from is None
                else recipient.security_attestation.valid_from.isoformat(),
            },
            "screening": recipient.screening,
        },
        "destination": request.destination,
        "trained_on_operator_infrastructure": request.trained_on_operator_infrastructure,
        "inquiry": None
        if request.inquiry is None
        else {
            "status": request.inquiry.status,
            "declared_destinations": list(request.inquiry.declared_destinations),
            "id": request.inquiry.id,
        },
        "licenses": [
            {
                "number": lic.number,
                "recipient": lic.recipient,
                "models": list(lic.models),
                "destinations": list(lic.destinations),
                "valid_until": lic.valid_until.isoformat(),
                "valid_from": None if lic.valid_from is None else lic.valid_from.isoformat(),
            }
            for lic in request.licenses
        ],
    }


__all__ = ["GateError", "parse_request", "parse_request_json", "request_to_dict", "to_request"]
