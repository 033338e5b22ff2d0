"""From records to a decision and back: build_request, record_decision, inquiries, shadow mode.

The decisions are the real core's (`gate.core.decide`) under the default ruleset; the expected
verdicts come from RULES.md.
"""

from __future__ import annotations

from datetime import date

import pytest

from gate.core.decide import decide
from gate.core.ruleset import Ruleset
from gate.core.values import ComputeInterval, ModelFacts, TransferRequest, Verdict
from gate.errors import InputError, NotFoundError
from gate.rules.loader import load_default_ruleset
from gate.store import audit, inquiries, licenses, models, recipients
from gate.store.db import Store
from gate.store.facts import build_request
from gate.store.record import RequestMeta, record_decision, record_outcome

DAY = date(2026, 6, 1)
REPO = "org/frontier"
COMMIT = "a" * 40
CONTROLLED = ModelFacts(
    repo_id=REPO, commit=COMMIT, published=False, training_compute=ComputeInterval.exactly(3e26)
)


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_default_ruleset()


def _request(store: Store, recipient: str, facts: ModelFacts = CONTROLLED) -> TransferRequest:
    return build_request(
        store,
        recipient=recipient,
        repo_id=facts.repo_id,
        commit=facts.commit,
        revision="main",
        file="model.safetensors",
        destination=None,
        day=DAY,
        model_facts=facts,
    )


def _decide_and_record(
    store: Store, ruleset: Ruleset, recipient: str, mode: str = "enforce"
) -> audit.AuditEntry:
    request = _request(store, recipient)
    decision = decide(request, ruleset)
    meta = RequestMeta(
        recipient_id=recipient,
        repo_id=REPO,
        commit=COMMIT,
        file="model.safetensors",
        sha256="b" * 64,
        size=123,
        client_address="127.0.0.1",
    )
    return record_decision(
        store,
        request,
        decision,
        meta,
        mode,  # type: ignore[arg-type]
        counted=True,
        redecide=lambda r: decide(r, ruleset),
    )


def test_allied_recipient_is_allowed_and_recorded_with_full_inputs(
    store: Store, ruleset: Ruleset
) -> None:
    recipients.add(
        store, "acme", actor="t", name="Acme", headquarters="US", parent="self", destinations=["US"]
    )
    entry = _decide_and_record(store, ruleset, "acme")
    payload = entry.payload
    assert payload["decision"]["verdict"] == "allow"
    assert payload["decision"]["basis"] == "domestic_transfer"  # US to US: RULES.md step 11
    assert payload["allowed"] is True and payload["enforced"] is True
    assert payload["request"]["recipient"]["id"] == "acme"
    assert payload["meta"]["client_address"] == "127.0.0.1"
    assert payload["decision"]["ruleset"] == {"id": ruleset.id, "sha256": ruleset.sha256}
    assert audit.get_entry(store, str(payload["decision_id"])).seq == entry.seq
    assert audit.verify_chain(store).ok


def test_hold_opens_one_inquiry_and_approval_feeds_the_next_decision(
    store: Store, ruleset: Ruleset
) -> None:
    recipients.add(
        store, "beta", actor="t", name="Beta GmbH", headquarters="DE", destinations=["DE"]
    )  # ultimate parent unknown
    first = _decide_and_record(store, ruleset, "beta")
    assert first.payload["decision"]["basis"] == "parties_unknown"
    assert first.payload["allowed"] is False
    assert first.inquiry_id is not None
    second = _decide_and_record(store, ruleset, "beta")
    assert second.inquiry_id == first.inquiry_id  # reused, not a second inquiry
    record = inquiries.get(store, first.inquiry_id)
    assert record.status == "open" and record.questions == ("ultimate_parent",)

    with pytest.raises(InputError, match="missing answers"):
        inquiries.answer(store, record.id, {}, by="beta")
    with pytest.raises(NotFoundError):  # another recipient cannot see or answer it
        inquiries.answer(store, record.id, {"ultimate_parent": "none"}, by="x", recipient_id="x")
    inquiries.answer(store, record.id, {"ultimate_parent": "none"}, by="beta")
    # Answered but not yet approved: still a hold.
    assert _decide_and_record(store, ruleset, "beta").payload["decision"]["verdict"] == "hold"
    inquiries.review(store, record.id, approve=True, reviewer="officer", note="checked registry")
    assert recipients.get(store, "beta").parent_kind == "self"
    after = _decide_and_record(store, ruleset, "beta")
    assert after.payload["decision"]["basis"] == "license_exception_aia"
    events = [e.payload.get("event") for e in audit.iter_entries(store, kind="inquiry")]
    assert events == ["opened", "answered", "approved"]


def test_iaas_red_flag_duty_to_inquire_then_license(store: Store, ruleset: Ruleset) -> None:
    recipients.add(
        store,
        "gamma",
        actor="t",
        name="Gamma US",
        headquarters="US",
        parent=("Gamma Holdings", "India"),
        destinations=["US"],
    )
    models.set_trained_for(store, REPO, "gamma", actor="op")
    held = _decide_and_record(store, ruleset, "gamma")
    assert held.payload["decision"]["basis"] == "duty_to_inquire"
    record = inquiries.get(store, str(held.inquiry_id))
    answers = {
        "export_destinations": ["India"],
        "end_use": "research",
        "license_obligation_acknowledged": True,
    }
    inquiries.answer(store, record.id, answers, by="gamma")
    inquiries.review(store, record.id, approve=True, reviewer="officer", note="ok")
    assert inquiries.get(store, record.id).answers["export_destinations"] == ["IN"]  # type: ignore[index]
    required = _decide_and_record(store, ruleset, "gamma")
    assert required.payload["decision"]["verdict"] == "license_required"

    licenses.add(
        store,
        "D123456",
        recipient_id="gamma",
        models=[REPO],
        destinations=["US", "IN"],
        valid_until=date(2027, 1, 1),
        max_transfers=1,
        actor="officer",
    )
    licensed = _decide_and_record(store, ruleset, "gamma")
    assert licensed.payload["decision"]["basis"] == "licensed"
    assert licensed.payload["decision"]["license_used"] == "D123456"
    # The cap was one transfer: the license is exhausted for any other file.
    assert licenses.get(store, "D123456").exhausted
    assert licenses.get(store, "D123456").transfers == 1
    # The same file again (a resumed download) was counted already: still licensed.
    again = _decide_and_record(store, ruleset, "gamma")
    assert again.payload["decision"]["basis"] == "licensed"
    assert licenses.get(store, "D123456").transfers == 1


def test_unacknowledged_obligation_cannot_be_approved(store: Store, ruleset: Ruleset) -> None:
    recipients.add(
        store,
        "delta",
        actor="t",
        name="Delta",
        headquarters="US",
        parent=("Delta Parent", "IN"),
        destinations=["US"],
    )
    models.set_trained_for(store, REPO, "delta", actor="op")
    held = _decide_and_record(store, ruleset, "delta")
    inquiry_id = str(held.inquiry_id)
    inquiries.answer(
        store,
        inquiry_id,
        {"export_destinations": [], "end_use": "x", "license_obligation_acknowledged": False},
        by="delta",
    )
    with pytest.raises(InputError, match="acknowledge"):
        inquiries.review(store, inquiry_id, approve=True, reviewer="o", note="n")
    assert inquiries.review(store, inquiry_id, approve=False, reviewer="o", note="n").status == (
        "rejected"
    )
    # A new hold after a rejection opens a new inquiry.
    assert _decide_and_record(store, ruleset, "delta").inquiry_id != inquiry_id


def test_shadow_mode_lets_through_and_says_what_would_have_been_blocked(
    store: Store, ruleset: Ruleset
) -> None:
    recipients.add(
        store, "ru", actor="t", name="R", headquarters="RU", parent="self", destinations=["RU"]
    )
    entry = _decide_and_record(store, ruleset, "ru", mode="shadow")
    payload = entry.payload
    assert payload["decision"]["verdict"] == "deny"
    assert (payload["allowed"], payload["enforced"], payload["would_have_blocked"]) == (
        True,
        False,
        True,
    )
    enforced = _decide_and_record(store, ruleset, "ru")
    assert enforced.payload["allowed"] is False


def test_designation_and_overrides_fold_into_the_model_facts(store: Store) -> None:
    recipients.add(store, "acme", actor="t", name="Acme", headquarters="US", parent="self")
    small = ModelFacts(repo_id="org/small", commit=COMMIT)
    models.classify(
        store,
        "org/small",
        actor="op",
        reason="card says Apache-2.0",
        published=True,
        publication_evidence="Apache-2.0 on the model card",
    )
    models.classify(
        store,
        "org/small",
        actor="op",
        reason="declared",
        commit=COMMIT,
        compute=ComputeInterval.exactly(2e24),
    )
    models.classify(
        store,
        "org/small",
        actor="op",
        reason="other commit",
        commit="c" * 40,
        compute=ComputeInterval.exactly(9e26),
    )
    facts = _request(store, "acme", small).model
    assert facts.published is True
    assert facts.training_compute.low == 2e24 and facts.training_compute.method == "recorded"
    assert not facts.designated
    models.designate(store, "org/small", reason="is-informed letter", actor="op")
    assert _request(store, "acme", small).model.designated


def test_unknown_recipient_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nobody"):
        _request(store, "nobody")


def test_outcomes_are_chained(store: Store, ruleset: Ruleset) -> None:
    recipients.add(
        store, "acme", actor="t", name="Acme", headquarters="US", parent="self", destinations=["US"]
    )
    entry = _decide_and_record(store, ruleset, "acme")
    outcome = record_outcome(store, str(entry.payload["decision_id"]), "aborted", "digest mismatch")
    assert outcome.seq == entry.seq + 1 and outcome.prev_hash == entry.hash
    assert audit.verify_chain(store).ok


def test_classification_cache_round_trips(store: Store) -> None:
    facts = ModelFacts(
        repo_id=REPO,
        commit=COMMIT,
        published=None,
        training_compute=ComputeInterval(1e25, 2e26, 5e25, "counting", ("safetensors header",)),
    )
    models.save_classification(store, facts)
    assert models.get_classification(store, REPO, COMMIT) == facts
    models.save_classification(store, facts)  # idempotent
    assert models.get_classification(store, REPO, "f" * 40) is None
    with pytest.raises(InputError):
        models.save_classification(store, ModelFacts(repo_id=REPO))
    assert Verdict.HOLD.value == "hold"
