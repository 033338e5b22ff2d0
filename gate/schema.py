"""The public request JSON (README, "Request JSON"): parsed strictly, converted to core values.

Validation (a pydantic-core shape, gate.rules.shape) lives here at the edge; the core sees only
frozen values with alpha-2 country codes. Every error names the field as a dotted path
(`recipient.ultimate_parent.headquarters`).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic_core import core_schema as cs

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
from gate.rules.shape import ValidationError, checked, field, record, validator

_TEXT = cs.str_schema()
_NAME = cs.str_schema(min_length=1)
_TEXTS = cs.list_schema(_TEXT)
_MAYBE_TEXT = cs.nullable_schema(_TEXT)
_FLAG = cs.bool_schema()
_DAY = cs.date_schema()
_SCREENING = cs.nullable_schema(cs.literal_schema(["clear", "possible_match", "match"]))


def _non_negative(value: float | None) -> float | None:
    if value is not None and value < 0:
        raise ValueError(f"must not be negative, got {value:g}")
    return value


_AMOUNT = checked(_non_negative, cs.nullable_schema(cs.float_schema(allow_inf_nan=False)))
_COMPUTE = record(
    "ComputeIn",
    {
        "low": field(_AMOUNT, None),
        "high": field(_AMOUNT, None),
        "central": field(_AMOUNT, None),
        "operations": field(_AMOUNT, None),
        "method": field(_MAYBE_TEXT, None),
        "evidence": field(_TEXTS, factory=list),
    },
)
_MODEL = record(
    "ModelIn",
    {
        "repo_id": field(_NAME),
        "revision": field(_MAYBE_TEXT, None),
        "commit": field(_MAYBE_TEXT, None),
        "designated": field(_FLAG, False),
        "designation_reason": field(_MAYBE_TEXT, None),
        "published": field(cs.nullable_schema(_FLAG), None),
        "publication_evidence": field(_MAYBE_TEXT, None),
        "training_compute": field(cs.nullable_schema(_COMPUTE), None),
        "less_capable_than_published": field(_FLAG, False),
        "declaration_id": field(_MAYBE_TEXT, None),
    },
)
_PARTY = record(
    "PartyIn",
    {
        "name": field(_NAME),
        "headquarters": field(_MAYBE_TEXT, None),
        "screening": field(_SCREENING, None),
    },
)
_ATTESTATION = record(
    "AttestationIn",
    {"valid_until": field(_DAY), "valid_from": field(cs.nullable_schema(_DAY), None)},
)
_RECIPIENT = record(
    "RecipientIn",
    {
        "name": field(_NAME),
        "id": field(_MAYBE_TEXT, None),
        "headquarters": field(_MAYBE_TEXT, None),
        "ultimate_parent": field(
            cs.nullable_schema(cs.union_schema([_PARTY, cs.literal_schema([SELF])])), None
        ),
        "security_attestation": field(cs.nullable_schema(_ATTESTATION), None),
        "screening": field(_SCREENING, None),
    },
)
_INQUIRY = record(
    "InquiryIn",
    {
        "status": field(cs.literal_schema(["open", "completed", "rejected"])),
        "declared_destinations": field(_TEXTS, factory=list),
        "id": field(_MAYBE_TEXT, None),
    },
)
_LICENSE = record(
    "LicenseIn",
    {
        "number": field(_NAME),
        "recipient": field(_NAME),
        "models": field(cs.list_schema(_TEXT, min_length=1)),
        "destinations": field(cs.list_schema(_TEXT, min_length=1)),
        "valid_until": field(_DAY),
        "valid_from": field(cs.nullable_schema(_DAY), None),
    },
)
_REQUEST = validator(
    record(
        "RequestIn",
        {
            "date": field(_DAY),
            "model": field(_MODEL),
            "recipient": field(_RECIPIENT),
            "destination": field(_MAYBE_TEXT, None),
            "file": field(_MAYBE_TEXT, None),
            "trained_on_operator_infrastructure": field(_FLAG, False),
            "inquiry": field(cs.nullable_schema(_INQUIRY), None),
            "licenses": field(cs.list_schema(_LICENSE), factory=list),
        },
    )
)
"""The request JSON's shape: every field, its type and default; unknown fields are errors."""


def _country(value: str | None, field: str) -> str | None:
    return None if value is None else normalize_country(value, field)


def _compute(value: Any) -> ComputeInterval:
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


def to_request(parsed: Any) -> TransferRequest:
    """Convert a validated request to core values, normalising every country."""
    r = parsed.recipient
    parent: Party | Literal["self"] | None
    if r.ultimate_parent is None:
        parent = None
    elif r.ultimate_parent == SELF:
        parent = SELF
    else:
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
        parsed = _REQUEST(data)
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
