"""`gate replay` under a ruleset set, and decisions recorded by another procedure version."""

from __future__ import annotations

import dataclasses
from datetime import date

from gate.core.decide import decide
from gate.core.procedure import PROCEDURE_VERSION
from gate.core.ruleset_set import decide_all
from gate.core.values import SELF, ComputeInterval, ModelFacts, Recipient, TransferRequest
from gate.rules.loader import load_default_ruleset, load_shipped_set
from gate.store.db import open_store
from gate.store.record import RequestMeta, record_decision
from gate.store.replay import replay

SMALL = ModelFacts("org/small", published=False, training_compute=ComputeInterval(None, 1e24))


def _request(destination: str) -> TransferRequest:
    return TransferRequest(
        date=date(2026, 6, 1),
        model=SMALL,
        recipient=Recipient("Shop", "VN", SELF, id="shop"),
        destination=destination,
        file="model.safetensors",
    )


def test_replay_under_the_set_and_other_procedure_versions(database_url: str) -> None:
    store = open_store(database_url)
    try:
        ai = load_default_ruleset()
        # Recorded under 4E091 alone by an older procedure: Iran below the threshold allowed.
        old = dataclasses.replace(decide(_request("IR"), ai), procedure_version="2025-01-01")
        record_decision(store, _request("IR"), old, RequestMeta(recipient_id="shop"))
        # Recorded by this procedure under the shipped set.
        current = decide_all(_request("VN"), load_shipped_set())
        record_decision(store, _request("VN"), current, RequestMeta(recipient_id="shop"))

        result = replay(store, load_shipped_set())
        assert result.decisions == 2
        assert [(c.before["basis"], c.after["basis"]) for c in result.changes] == [
            ("below_threshold", "comprehensive_embargo")
        ]
        assert result.changes[0].procedure_changed
        assert [(p.recorded) for p in result.other_procedure] == ["2025-01-01"]
        data = result.to_dict()
        assert [r["id"] for r in data["rulesets"]] == ["ai-diffusion-2025", "ear-embargoes"]
        assert data["procedure_version"] == PROCEDURE_VERSION
        assert data["other_procedure_version"] == 1

        # Under 4E091 alone nothing changes, but the old procedure version is still reported.
        alone = replay(store, ai)
        assert alone.changes == () and len(alone.other_procedure) == 1
    finally:
        store.close()
