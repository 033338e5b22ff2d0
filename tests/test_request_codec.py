"""One codec for model facts and intervals: every request survives its own JSON, evidence included.

`parse_request(request_to_dict(r)) == r` for any request the core can hold, also through JSON text
(what the audit chain keeps), and the records store's model classifications read back as written.
"""

from __future__ import annotations

import json
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

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
from gate.model_codec import (
    compute_from_dict,
    compute_to_dict,
    model_facts_from_dict,
    model_facts_to_dict,
)
from gate.schema import parse_request, parse_request_json, request_to_dict

COUNTRIES = ("US", "DE", "FR", "GB", "JP", "BR", "IN", "CN", "RU", "IR", "KP", "IL", "AE", "SG")

text = st.text(min_size=0, max_size=20)
name = st.text(min_size=1, max_size=20)
country = st.sampled_from(COUNTRIES)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
operations = st.floats(min_value=0, max_value=1e30, allow_nan=False, allow_infinity=False)


@st.composite
def intervals(draw: st.DrawFn) -> ComputeInterval:
    low = draw(st.none() | operations)
    high = draw(st.none() | operations)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return ComputeInterval(
        low=low,
        high=high,
        central=draw(st.none() | operations),
        method=draw(text),
        evidence=tuple(draw(st.lists(text, max_size=4))),
    )


model_facts = st.builds(
    ModelFacts,
    repo_id=name,
    revision=st.none() | text,
    commit=st.none() | st.text(alphabet="0123456789abcdef", min_size=40, max_size=40),
    designated=st.booleans(),
    designation_reason=st.none() | text,
    published=st.none() | st.booleans(),
    publication_evidence=st.none() | text,
    training_compute=intervals(),
    less_capable_than_published=st.booleans(),
    declaration_id=st.none() | text,
)

recipients = st.builds(
    Recipient,
    name=name,
    headquarters=st.none() | country,
    ultimate_parent=st.none()
    | st.just(SELF)
    | st.builds(Party, name=name, headquarters=st.none() | country),
    security_attestation=st.none()
    | st.builds(Attestation, valid_until=days, valid_from=st.none() | days),
    id=st.none() | text,
)

licenses = st.builds(
    License,
    number=name,
    recipient=name,
    models=st.lists(name, min_size=1, max_size=3).map(tuple),
    destinations=st.lists(country, min_size=1, max_size=3).map(tuple),
    valid_until=days,
    valid_from=st.none() | days,
)

inquiries = st.builds(
    Inquiry,
    status=st.sampled_from(["open", "completed", "rejected"]),
    declared_destinations=st.lists(country, max_size=3).map(tuple),
    id=st.none() | text,
)

requests = st.builds(
    TransferRequest,
    date=days,
    model=model_facts,
    recipient=recipients,
    destination=st.none() | country,
    file=st.none() | text,
    trained_on_operator_infrastructure=st.booleans(),
    licenses=st.lists(licenses, max_size=3).map(tuple),
    inquiry=st.none() | inquiries,
)


@settings(max_examples=150, deadline=None)
@given(requests)
def test_every_request_survives_its_json(request: TransferRequest) -> None:
    assert parse_request(request_to_dict(request)) == request
    assert parse_request_json(json.dumps(request_to_dict(request))) == request


@settings(max_examples=100, deadline=None)
@given(model_facts)
def test_model_facts_read_back_as_written(facts: ModelFacts) -> None:
    assert model_facts_from_dict(json.loads(json.dumps(model_facts_to_dict(facts)))) == facts
    compute = facts.training_compute
    assert compute_from_dict(compute_to_dict(compute)) == compute


def test_the_request_keeps_the_evidence() -> None:
    """The evidence behind an interval is part of the request JSON, not dropped on the way."""
    compute = ComputeInterval(1e24, 2e24, None, "declaration", ("signed by Acme", "sha256 abc"))
    request = TransferRequest(
        date=date(2026, 3, 2),
        model=ModelFacts(repo_id="lab/m", training_compute=compute),
        recipient=Recipient(name="Acme", headquarters="US", ultimate_parent=SELF),
        destination="US",
    )
    data = request_to_dict(request)
    assert data["model"]["training_compute"]["evidence"] == ["signed by Acme", "sha256 abc"]
    assert parse_request(data).model.training_compute.evidence == compute.evidence
