"""The `ear-embargoes` procedure (RULES.md "Beyond 4E091") step by step, and the set."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Literal

import pytest

from gate.core.embargoes import EmbargoRuleset, decide_embargoes
from gate.core.ruleset import Ruleset
from gate.core.ruleset_set import RulesetSet, decide_all
from gate.core.values import (
    SELF,
    Basis,
    ComputeInterval,
    Inquiry,
    License,
    ModelFacts,
    Party,
    Recipient,
    TransferRequest,
    Verdict,
)
from gate.rules.loader import load_shipped_set

SHIPPED = load_shipped_set()


def _shipped() -> tuple[Ruleset, EmbargoRuleset]:
    ai, emb = SHIPPED.rulesets
    assert isinstance(ai, Ruleset) and isinstance(emb, EmbargoRuleset)
    return ai, emb


AI, EMB = _shipped()
SMALL = ComputeInterval(None, 4.8e24, method="upper_bound")


def request(**changes: object) -> TransferRequest:
    """A closed model below the threshold, to a screened recipient in Viet Nam."""
    base = TransferRequest(
        date=date(2025, 6, 1),
        model=ModelFacts("acme/small-8b", published=False, training_compute=SMALL),
        recipient=Recipient("Shop Ltd", "VN", SELF, id="shop", screening="clear"),
        destination="VN",
        file="model.safetensors",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def emb(**changes: object) -> tuple[Verdict, Basis]:
    decision = decide_embargoes(request(**changes), EMB)
    return decision.verdict, decision.basis


def test_step7_no_embargo() -> None:
    assert emb() == (Verdict.ALLOW, Basis.NO_EMBARGO)


def test_step1_not_parameters_and_step2_published() -> None:
    assert emb(file="config.json", destination="IR") == (Verdict.ALLOW, Basis.NOT_MODEL_WEIGHTS)
    published = dataclasses.replace(request().model, published=True)
    assert emb(model=published, destination="IR") == (Verdict.ALLOW, Basis.PUBLISHED)
    blocking = dataclasses.replace(EMB, block_published=True)
    decision = decide_embargoes(request(model=published, destination="IR"), blocking)
    assert decision.basis is Basis.COMPREHENSIVE_EMBARGO
    # Publication unknown is not published.
    unknown = dataclasses.replace(request().model, published=None)
    assert emb(model=unknown, destination="IR") == (Verdict.DENY, Basis.COMPREHENSIVE_EMBARGO)


@pytest.mark.parametrize(
    "recipient",
    [
        Recipient("R", "VN", SELF, screening="match"),
        Recipient("R", "VN", Party("P", "VN", screening="match"), screening="clear"),
        Recipient("R", "VN", Party("P", "VN", screening="match"), screening=None),
    ],
)
def test_step3_confirmed_restricted_party_denies(recipient: Recipient) -> None:
    assert emb(recipient=recipient) == (Verdict.DENY, Basis.RESTRICTED_PARTY)


@pytest.mark.parametrize(
    ("hq", "parent", "destination"),
    [
        ("IR", SELF, "VN"),
        ("VN", Party("P", "RU"), "VN"),
        ("VN", SELF, "UA-43"),
        ("VN", SELF, "KP"),
        ("VN", SELF, "CU"),
        ("VN", SELF, "SY"),
        ("VN", SELF, "BY"),
        ("VN", SELF, "UA-09"),
        (None, None, "IR"),  # a known embargoed place decides even with unknowns
    ],
)
def test_step4_comprehensive_embargo(
    hq: str | None, parent: Party | Literal["self"] | None, destination: str
) -> None:
    recipient = Recipient("R", hq, parent, id="r")
    assert emb(recipient=recipient, destination=destination) == (
        Verdict.DENY,
        Basis.COMPREHENSIVE_EMBARGO,
    )


def test_step4_declared_destination_of_an_open_inquiry_counts() -> None:
    assert emb(inquiry=Inquiry("open", ("IR",))) == (Verdict.DENY, Basis.COMPREHENSIVE_EMBARGO)


def test_step4_region_not_listed_is_not_embargoed() -> None:
    assert emb(destination="UA-30") == (Verdict.ALLOW, Basis.NO_EMBARGO)  # Kyiv city


def test_step4_license_on_record_allows() -> None:
    lic = License("E1", "shop", ("acme/small-8b",), ("IR",), date(2026, 1, 1))
    decision = decide_embargoes(request(destination="IR", licenses=(lic,)), EMB)
    assert (decision.verdict, decision.basis, decision.license_used) == (
        Verdict.ALLOW,
        Basis.LICENSED,
        "E1",
    )
    by_name = dataclasses.replace(lic, recipient="Shop Ltd")
    assert emb(destination="IR", licenses=(by_name,)) == (Verdict.DENY, Basis.COMPREHENSIVE_EMBARGO)


def test_step5_possible_match_and_required_screening() -> None:
    possible = Recipient("R", "VN", Party("P", "VN", screening="possible_match"), screening="clear")
    assert emb(recipient=possible) == (Verdict.HOLD, Basis.RESTRICTED_PARTY_REVIEW)
    never = Recipient("R", "VN", SELF)
    assert emb(recipient=never) == (Verdict.ALLOW, Basis.NO_EMBARGO)
    requiring = dataclasses.replace(EMB, require_screening=True)
    decision = decide_embargoes(request(recipient=never), requiring)
    assert (decision.verdict, decision.basis) == (Verdict.HOLD, Basis.RESTRICTED_PARTY_REVIEW)
    assert decision.questions == ("restricted_party_review",)
    parent_never = Recipient("R", "VN", Party("P", "VN"), screening="clear")
    decision = decide_embargoes(request(recipient=parent_never), requiring)
    assert decision.basis is Basis.RESTRICTED_PARTY_REVIEW
    assert "ultimate parent" in decision.reasons[0].text


def test_step6_unknown_parties_hold() -> None:
    assert emb(destination=None) == (Verdict.HOLD, Basis.PARTIES_UNKNOWN)
    assert emb(recipient=Recipient("R", "VN", None)) == (Verdict.HOLD, Basis.PARTIES_UNKNOWN)


def test_set_most_restrictive_wins_and_keeps_each_verdict() -> None:
    iran = request(destination="IR")
    decision = decide_all(iran, SHIPPED)
    assert (decision.verdict, decision.basis) == (Verdict.DENY, Basis.COMPREHENSIVE_EMBARGO)
    assert (decision.ruleset_id, decision.ruleset_sha256) == (EMB.id, EMB.sha256)
    assert [(r.id, r.basis) for r in decision.rulesets] == [
        ("ai-diffusion-2025", Basis.BELOW_THRESHOLD),
        ("ear-embargoes", Basis.COMPREHENSIVE_EMBARGO),
    ]
    # Only rulesets that did not allow contribute reasons.
    assert [r.code for r in decision.reasons] == ["comprehensive_embargo"]
    assert decision.procedure_version
    data = decision.to_dict()
    assert data["ruleset"] == {"id": EMB.id, "sha256": EMB.sha256}
    assert [r["verdict"] for r in data["rulesets"]] == ["allow", "deny"]


def test_set_ties_the_first_ruleset_names_the_basis() -> None:
    controlled = ModelFacts(
        "acme/frontier", published=False, training_compute=ComputeInterval(2e26, 3e26)
    )
    unknown_parent = request(recipient=Recipient("R", "VN", None), model=controlled)
    for order in ((AI, EMB), (EMB, AI)):
        decision = decide_all(unknown_parent, RulesetSet(order))
        assert decision.verdict is Verdict.HOLD
        assert decision.ruleset_id == order[0].id
        # Both held: both rulesets' reasons are listed, the deciding one first.
        assert len(decision.reasons) >= 2
        assert decision.questions.count("ultimate_parent") == 1
    allowed = decide_all(request(), SHIPPED)
    assert (allowed.verdict, allowed.basis) == (Verdict.ALLOW, Basis.BELOW_THRESHOLD)
    assert [r.code for r in allowed.reasons] == ["below_threshold"]


def test_set_reports_a_license_used_by_any_allowing_ruleset() -> None:
    # A US recipient, a closed small model, to Crimea under a license: 4E091 allows it as below
    # the threshold; the embargo ruleset allows it under the license, which the decision names.
    lic = License("E2", "us-co", ("4E091",), ("UA-43",), date(2026, 1, 1))
    us = Recipient("US Co", "US", SELF, id="us-co", screening="clear")
    decision = decide_all(request(recipient=us, destination="UA-43", licenses=(lic,)), SHIPPED)
    assert (decision.verdict, decision.basis, decision.license_used) == (
        Verdict.ALLOW,
        Basis.BELOW_THRESHOLD,
        "E2",
    )


def test_one_ruleset_decision_json_stays_backward_compatible() -> None:
    from gate.core.decide import decide

    data = decide(request(), AI).to_dict()
    for key in ("verdict", "basis", "reasons", "questions", "license_used", "ruleset", "facts"):
        assert key in data
    assert data["rulesets"] == [
        {
            "id": AI.id,
            "sha256": AI.sha256,
            "verdict": "allow",
            "basis": "below_threshold",
            "reasons": data["reasons"],
        }
    ]


def test_an_empty_set_is_refused_not_allowed() -> None:
    with pytest.raises(ValueError):
        decide_all(request(), [])
    with pytest.raises(ValueError):
        RulesetSet(())
