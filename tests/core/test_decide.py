"""Each step of RULES.md's procedure, the edge of each comparison, and the decision's shape."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from gate.core.decide import decide
from gate.core.ruleset import Designation
from gate.core.values import (
    SELF,
    Attestation,
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
from gate.errors import InputError
from gate.rules.loader import load_default_ruleset

RULES = load_default_ruleset()
ABOVE = ComputeInterval(1.2e26, 2.5e26)


def request(**changes: object) -> TransferRequest:
    """An allied recipient (DE, parent US) asking for a controlled model's shard, to France."""
    base = TransferRequest(
        date=date(2025, 6, 1),
        model=ModelFacts("acme/frontier-1", published=False, training_compute=ABOVE),
        recipient=Recipient("Example GmbH", "DE", Party("Example Holdings", "US"), id="rcp_ex"),
        destination="FR",
        file="model-00001-of-00004.safetensors",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def model(**changes: object) -> ModelFacts:
    return dataclasses.replace(request().model, **changes)  # type: ignore[arg-type]


def test_step1_not_in_force_before_compliance_date() -> None:
    assert decide(request(date=date(2025, 5, 14)), RULES).basis is Basis.NOT_IN_FORCE
    assert decide(request(date=date(2025, 5, 15)), RULES).basis is Basis.LICENSE_EXCEPTION_AIA


def test_step1_not_in_force_after_rescission() -> None:
    rescinded = dataclasses.replace(RULES, in_force_until=date(2026, 1, 1))
    assert decide(request(date=date(2026, 1, 2)), rescinded).basis is Basis.NOT_IN_FORCE
    assert decide(request(date=date(2026, 1, 1)), rescinded).basis is not Basis.NOT_IN_FORCE


@pytest.mark.parametrize(
    "name",
    [
        "config.json",
        "tokenizer.json",
        "README.md",
        "model.safetensors.index.json",
        "generation_config.json",
        "weight-gate.sig",
    ],
)
def test_step2_files_that_are_not_parameters_flow(name: str) -> None:
    decision = decide(request(file=name, destination="CN"), RULES)
    assert (decision.verdict, decision.basis) == (Verdict.ALLOW, Basis.NOT_MODEL_WEIGHTS)


@pytest.mark.parametrize(
    "name",
    [
        "model.safetensors",
        "sub/dir/pytorch_model-00001-of-00002.bin",
        "model.GGUF",
        "consolidated.00.pth",
        "flax_model.msgpack",
        "tf_model.h5",
        "model.onnx",
        "weights.npz",
        "adapter_model.safetensors",
        # Issue 10: real formats, renamed files, and the old exception list are parameters.
        "model.sft",
        "model.pte",
        "rust_model.ot",
        "inference.pdiparams",
        "net.caffemodel",
        "yolo.weights",
        "handler.mar",
        "model.safetensors.bak",
        "model.safetensors.part1",
        "model.bin.1",
        "training_args.bin",
        "optimizer_args.bin",
        "scheduler.pt",
        "rng_state_3.pth",
        "config.json.safetensors",
        "LICENSE.safetensors",
        "README.md.bin",
    ],
)
def test_step2_parameter_files_are_decided(name: str) -> None:
    assert decide(request(file=name, destination="CN"), RULES).verdict is Verdict.DENY


def test_whole_model_is_parameters() -> None:
    assert decide(request(file=None, destination="CN"), RULES).verdict is Verdict.DENY


def test_step3_designated_is_controlled_even_if_published_and_small() -> None:
    small_published = model(
        published=True,
        training_compute=ComputeInterval(0, 1e20),
        designated=True,
        designation_reason="is-informed letter",
    )
    decision = decide(request(model=small_published, destination="CN"), RULES)
    assert (decision.verdict, decision.basis) == (Verdict.DENY, Basis.PRESUMPTION_OF_DENIAL)
    assert "is-informed letter" in decision.reasons[0].text


def test_step3_designation_from_the_ruleset() -> None:
    rules = dataclasses.replace(RULES, designated=(Designation("ACME/Frontier-1", "letter"),))
    decision = decide(request(model=model(published=True), destination="IN"), rules)
    assert decision.basis is Basis.SECURITY_ATTESTATION_REQUIRED  # controlled: allied to `other`


def test_step4_published_is_excluded() -> None:
    decision = decide(request(model=model(published=True), destination="CN"), RULES)
    assert (decision.verdict, decision.basis) == (Verdict.ALLOW, Basis.PUBLISHED)
    assert decision.reasons[0].citation == "15 CFR 734.7(a)"


@pytest.mark.parametrize(
    ("low", "high", "basis"),
    [
        (None, 9.99e25, Basis.BELOW_THRESHOLD),
        (1e20, 1e26, Basis.COMPUTE_UNDETERMINED),  # high reaches 1e26, low does not: straddles
        (1e26, 1e26, Basis.LICENSE_EXCEPTION_AIA),  # "at or above" is controlled
        (9e25, 1e26, Basis.COMPUTE_UNDETERMINED),
        (None, None, Basis.COMPUTE_UNDETERMINED),
        (5e25, None, Basis.COMPUTE_UNDETERMINED),
        (1e26, None, Basis.LICENSE_EXCEPTION_AIA),  # low known at the threshold settles it
    ],
)
def test_step5_and_6_threshold_edges(low: float | None, high: float | None, basis: Basis) -> None:
    compute = ComputeInterval(low, high)
    assert decide(request(model=model(training_compute=compute)), RULES).basis is basis


def test_step5_less_capable_than_published_by_frontier_number() -> None:
    rules = dataclasses.replace(
        RULES, threshold_operations=1e26, published_frontier_operations=3e26
    )
    decision = decide(request(destination="CN"), rules)
    assert (decision.verdict, decision.basis) == (Verdict.ALLOW, Basis.LESS_CAPABLE_THAN_PUBLISHED)
    assert decision.reasons[0].citation == "15 CFR 748.3(f)"


def test_step5_less_capable_by_recorded_classification() -> None:
    decision = decide(
        request(model=model(less_capable_than_published=True), destination="CN"), RULES
    )
    assert decision.basis is Basis.LESS_CAPABLE_THAN_PUBLISHED


def test_step6_publication_unknown_asks_both_questions_when_compute_is_open_too() -> None:
    decision = decide(
        request(model=model(published=None, training_compute=ComputeInterval())), RULES
    )
    assert (decision.verdict, decision.basis) == (Verdict.HOLD, Basis.PUBLICATION_UNKNOWN)
    assert decision.questions == ("publication_status", "training_compute")


def test_step7_license_outranks_embargo() -> None:
    lic = License("D1", "rcp_ex", ("acme/frontier-1",), ("CN",), date(2027, 1, 1))
    decision = decide(request(destination="CN", licenses=(lic,)), RULES)
    assert (decision.verdict, decision.basis, decision.license_used) == (
        Verdict.ALLOW,
        Basis.LICENSED,
        "D1",
    )


def test_step7_license_matches_recipient_by_id_and_model_case_insensitively() -> None:
    by_id = License("D2", "rcp_42", ("ACME/FRONTIER-1",), ("IN",), date(2027, 1, 1))
    recipient = dataclasses.replace(
        request().recipient, id="rcp_42", headquarters="IN", ultimate_parent=SELF
    )
    decision = decide(request(recipient=recipient, destination="IN", licenses=(by_id,)), RULES)
    assert decision.basis is Basis.LICENSED
    # A license naming the display name does not name the recipient (RULES.md: by its id).
    by_name = dataclasses.replace(by_id, recipient="Example GmbH")
    decision = decide(request(recipient=recipient, destination="IN", licenses=(by_name,)), RULES)
    assert decision.basis is Basis.LICENSE_REQUIRED
    # Nor does a recipient without an id match a license naming its name.
    anonymous = dataclasses.replace(recipient, id=None, name="rcp_42")
    decision = decide(request(recipient=anonymous, destination="IN", licenses=(by_id,)), RULES)
    assert decision.basis is Basis.LICENSE_REQUIRED


def test_step7_license_must_name_every_declared_destination() -> None:
    recipient = Recipient("Lumen US", "US", Party("Lumen Holdings", "IN"), id="lumen")
    lic = License("D3", "lumen", ("4E091",), ("US",), date(2027, 1, 1))
    inquiry = Inquiry("completed", ("IN",))
    base = request(
        recipient=recipient,
        destination="US",
        licenses=(lic,),
        trained_on_operator_infrastructure=True,
    )
    assert decide(base, RULES).basis is Basis.LICENSED  # no inquiry yet: only US to cover
    decision = decide(dataclasses.replace(base, inquiry=inquiry), RULES)
    assert decision.basis is Basis.LICENSE_REQUIRED
    wider = dataclasses.replace(lic, destinations=("US", "IN"))
    assert (
        decide(dataclasses.replace(base, inquiry=inquiry, licenses=(wider,)), RULES).basis
        is Basis.LICENSED
    )


def test_step7_license_validity_window() -> None:
    lic = License("D4", "rcp_ex", ("4E091",), ("IN",), date(2025, 6, 1), date(2025, 6, 1))
    assert decide(request(destination="IN", licenses=(lic,)), RULES).basis is Basis.LICENSED
    later = request(destination="IN", licenses=(lic,), date=date(2025, 6, 2))
    assert decide(later, RULES).basis is Basis.SECURITY_ATTESTATION_REQUIRED


@pytest.mark.parametrize(
    ("hq", "parent", "destination"),
    [
        ("CN", SELF, "FR"),
        ("DE", Party("P", "RU"), "FR"),
        ("DE", Party("P", "US"), "MO"),
        (None, None, "CN"),
        ("CN", None, None),
    ],
)
def test_step8_any_known_embargoed_party_denies_even_with_unknowns(
    hq: str | None, parent: object, destination: str | None
) -> None:
    recipient = Recipient("R", hq, parent)  # type: ignore[arg-type]
    decision = decide(request(recipient=recipient, destination=destination), RULES)
    assert (decision.verdict, decision.basis) == (Verdict.DENY, Basis.PRESUMPTION_OF_DENIAL)


def test_step8_embargoed_declared_destination_denies() -> None:
    inquiry = Inquiry("completed", ("RU",))
    assert decide(request(inquiry=inquiry), RULES).basis is Basis.PRESUMPTION_OF_DENIAL


@pytest.mark.parametrize("status", ["open", "rejected", "completed"])
def test_step8_declared_destinations_count_whatever_the_inquiry_state(status: str) -> None:
    inquiry = Inquiry(status, ("RU",))  # type: ignore[arg-type]
    assert decide(request(inquiry=inquiry), RULES).basis is Basis.PRESUMPTION_OF_DENIAL


@pytest.mark.parametrize(
    ("hq", "parent", "destination"),
    [("HK", SELF, "FR"), ("DE", Party("P", "HK"), "FR"), ("DE", Party("P", "US"), "HK")],
)
def test_hong_kong_is_china_under_the_ear(hq: str, parent: object, destination: str) -> None:
    recipient = Recipient("R", hq, parent)  # type: ignore[arg-type]
    decision = decide(request(recipient=recipient, destination=destination), RULES)
    assert (decision.verdict, decision.basis) == (Verdict.DENY, Basis.PRESUMPTION_OF_DENIAL)


@pytest.mark.parametrize("territory", ["PR", "GU", "VI", "AS", "MP", "UM"])
def test_us_territories_are_the_united_states(territory: str) -> None:
    us = Recipient("Acme US", "US", SELF)
    assert decide(request(recipient=us, destination=territory), RULES).basis is (
        Basis.DOMESTIC_TRANSFER
    )
    based_there = Recipient("Acme PR", territory, SELF)
    decision = decide(request(recipient=based_there, destination="FR"), RULES)
    assert decision.basis is Basis.LICENSE_EXCEPTION_AIA  # allied headquarters


def test_a_region_takes_its_countrys_group_unless_named() -> None:
    assert RULES.group_of("UA-43").value == "other"  # Ukraine is `other`
    assert RULES.group_of("CN-GD").value == "embargoed"
    assert RULES.group_of("US-CA").value == "allied"
    assert RULES.is_domestic("US-CA")
    named = dataclasses.replace(RULES, embargoed=RULES.embargoed | {"UA-43"})
    assert named.group_of("UA-43").value == "embargoed"
    assert named.group_of("UA-30").value == "other"
    decision = decide(request(destination="UA-43"), named)
    assert decision.basis is Basis.PRESUMPTION_OF_DENIAL


@pytest.mark.parametrize(
    ("recipient", "destination", "questions"),
    [
        (Recipient("R", None, SELF), "FR", ("recipient_headquarters",)),
        (Recipient("R", "DE", None), "FR", ("ultimate_parent",)),
        (Recipient("R", "DE", Party("P", None)), "FR", ("ultimate_parent",)),
        (Recipient("R", "DE", SELF), None, ("destination",)),
        (
            Recipient("R", None, None),
            None,
            ("recipient_headquarters", "ultimate_parent", "destination"),
        ),
    ],
)
def test_step9_unknown_parties_hold_with_questions(
    recipient: Recipient, destination: str | None, questions: tuple[str, ...]
) -> None:
    decision = decide(request(recipient=recipient, destination=destination), RULES)
    assert (decision.verdict, decision.basis) == (Verdict.HOLD, Basis.PARTIES_UNKNOWN)
    assert decision.questions == questions


def test_step10_duty_to_inquire_for_us_subsidiary_of_foreign_parent() -> None:
    recipient = Recipient("Lumen US", "US", Party("Lumen Holdings", "IN"))
    base = request(recipient=recipient, destination="US", trained_on_operator_infrastructure=True)
    decision = decide(base, RULES)
    assert (decision.verdict, decision.basis) == (Verdict.HOLD, Basis.DUTY_TO_INQUIRE)
    assert decision.reasons[-1].citation == "Supp. No. 3 to Part 732, Red Flag 28"
    assert set(decision.questions) == {
        "export_destinations",
        "end_use",
        "license_obligation_acknowledged",
    }
    assert (
        decide(dataclasses.replace(base, inquiry=Inquiry("open")), RULES).basis
        is Basis.DUTY_TO_INQUIRE
    )
    assert (
        decide(dataclasses.replace(base, inquiry=Inquiry("rejected")), RULES).basis
        is Basis.DUTY_TO_INQUIRE
    )
    # Not trained here: a domestic transfer to a recipient with a foreign parent still asks.
    assert (
        decide(dataclasses.replace(base, trained_on_operator_infrastructure=False), RULES).basis
        is Basis.DUTY_TO_INQUIRE
    )
    # A completed inquiry declaring only the United States: domestic, allowed.
    completed = dataclasses.replace(base, inquiry=Inquiry("completed", ("US",)))
    decision = decide(completed, RULES)
    assert (decision.verdict, decision.basis) == (Verdict.ALLOW, Basis.DOMESTIC_TRANSFER)
    # Declaring a destination abroad: the ordinary export steps apply to it.
    abroad = dataclasses.replace(base, inquiry=Inquiry("completed", ("US", "IN")))
    assert decide(abroad, RULES).basis is Basis.LICENSE_REQUIRED
    # Not domestic and not trained here: no inquiry is asked for.
    export = dataclasses.replace(base, destination="IN", trained_on_operator_infrastructure=False)
    assert decide(export, RULES).basis is Basis.LICENSE_REQUIRED


def test_step11_domestic_transfer_before_and_after_a_completed_inquiry() -> None:
    recipient = Recipient("Lumen US", "US", Party("Lumen Holdings", "IN"), id="lumen")
    base = request(recipient=recipient, destination="PR")
    assert decide(base, RULES).basis is Basis.DUTY_TO_INQUIRE
    # An open inquiry declaring only US places does not satisfy the duty to inquire.
    assert (
        decide(dataclasses.replace(base, inquiry=Inquiry("open", ("GU",))), RULES).basis
        is Basis.DUTY_TO_INQUIRE
    )
    done = dataclasses.replace(base, inquiry=Inquiry("completed", ("GU",)))
    assert decide(done, RULES).basis is Basis.DOMESTIC_TRANSFER
    # An allied recipient needs no inquiry for a domestic transfer.
    allied = request(recipient=Recipient("Acme", "US", SELF), destination="US")
    assert decide(allied, RULES).basis is Basis.DOMESTIC_TRANSFER


def test_step10_allied_recipient_trained_here_needs_no_inquiry() -> None:
    decision = decide(request(trained_on_operator_infrastructure=True), RULES)
    assert decision.basis is Basis.LICENSE_EXCEPTION_AIA


def test_step11_and_12_completed_inquiry_uses_most_restrictive_destination() -> None:
    recipient = dataclasses.replace(
        request().recipient, security_attestation=Attestation(date(2026, 12, 31))
    )
    base = request(recipient=recipient, destination="FR")
    assert decide(base, RULES).basis is Basis.LICENSE_EXCEPTION_AIA
    wider = dataclasses.replace(base, inquiry=Inquiry("completed", ("JP", "IN")))
    assert decide(wider, RULES).basis is Basis.LICENSE_EXCEPTION_AIA_WEIGHTS


@pytest.mark.parametrize(
    ("attestation", "basis"),
    [
        (None, Basis.SECURITY_ATTESTATION_REQUIRED),
        (Attestation(date(2025, 5, 31)), Basis.SECURITY_ATTESTATION_REQUIRED),
        (Attestation(date(2025, 6, 1)), Basis.LICENSE_EXCEPTION_AIA_WEIGHTS),
        (
            Attestation(date(2026, 1, 1), valid_from=date(2025, 6, 2)),
            Basis.SECURITY_ATTESTATION_REQUIRED,
        ),
    ],
)
def test_step12_attestation_must_be_current(attestation: Attestation | None, basis: Basis) -> None:
    recipient = dataclasses.replace(request().recipient, security_attestation=attestation)
    assert decide(request(recipient=recipient, destination="BR"), RULES).basis is basis


def test_step13_other_headquarters_needs_license() -> None:
    recipient = Recipient("Nusantara", "ID", SELF)
    decision = decide(request(recipient=recipient, destination="FR"), RULES)
    assert (decision.verdict, decision.basis) == (Verdict.LICENSE_REQUIRED, Basis.LICENSE_REQUIRED)


def test_decision_names_ruleset_and_facts() -> None:
    decision = decide(request(), RULES)
    body = decision.to_dict()
    assert body["ruleset"] == {"id": "ai-diffusion-2025", "sha256": RULES.sha256}
    assert body["facts"]["headquarters_group"] == "allied"
    assert body["facts"]["destinations"] == ("FR",)
    assert all(r["citation"] for r in body["reasons"])


def test_compute_interval_rejects_nonsense() -> None:
    with pytest.raises(InputError, match=r"low .* is above high"):
        ComputeInterval(2e26, 1e26)
    with pytest.raises(InputError, match="negative"):
        ComputeInterval(-1, None)
    with pytest.raises(InputError, match="finite"):
        ComputeInterval(float("nan"), None)


def test_values_reject_non_codes() -> None:
    with pytest.raises(InputError, match="alpha-2"):
        Recipient("R", "Germany")
