"""The records a decision reads are served from memory, and a change reaches the next request.

Two gatekeepers over one database stand for two workers (or replicas); the operator's changes
are made through a third connection, as `gate records ...` would. Both SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from gate.core.values import ComputeInterval, ModelFacts, Verdict
from gate.errors import AuthError
from gate.rules.loader import load_default_ruleset
from gate.service.gatekeeper import TransferContext
from gate.service.records_gatekeeper import StoreGatekeeper
from gate.store import credentials, licenses, models, recipients
from gate.store.db import Store, open_store
from tests.service.downloads import whole_file_get

PUBLISHED = ModelFacts(repo_id="open/small", published=True, publication_evidence="apache-2.0")


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[Store, Store, Store]]:
    opened = [open_store(database_url) for _ in range(3)]
    yield opened[0], opened[1], opened[2]
    for store in opened:
        store.close()


def _seed(admin: Store) -> dict[str, str]:
    tokens = {}
    for rid, hq in (("r-us", "US"), ("r-cn", "CN")):
        recipients.add(
            admin,
            rid,
            actor="tests",
            name=rid,
            headquarters=hq,
            parent="self",
            destinations=[hq],
            default_destination=hq,
        )
        tokens[rid], _ = credentials.create_token(admin, rid, actor="tests")
    return tokens


def _ctx(gk: StoreGatekeeper, token: str, facts: ModelFacts, path: str) -> TransferContext:
    return whole_file_get(gk, gk.authenticate(token), facts, path)


def _workers(stores: tuple[Store, Store, Store]) -> tuple[StoreGatekeeper, StoreGatekeeper]:
    ruleset = load_default_ruleset()
    return (
        StoreGatekeeper(stores[0], ruleset, signer=None),
        StoreGatekeeper(stores[1], ruleset, signer=None),
    )


def test_repeated_requests_are_answered_from_memory(stores: tuple[Store, Store, Store]) -> None:
    tokens = _seed(stores[2])
    gk, _ = _workers(stores)
    assert gk.records is not None
    for _ in range(5):
        answer = gk.check(_ctx(gk, tokens["r-cn"], PUBLISHED, "model.safetensors"))
        assert answer.verdict is Verdict.ALLOW
    assert gk.records.reads == 1


def test_revocation_reaches_every_worker_at_the_next_request(
    stores: tuple[Store, Store, Store],
) -> None:
    tokens = _seed(stores[2])
    a, b = _workers(stores)
    for gk in (a, b):
        assert gk.authenticate(tokens["r-us"]).recipient_id == "r-us"
    credentials.revoke(stores[2], tokens["r-us"], actor="tests")
    for gk in (a, b):
        with pytest.raises(AuthError):
            gk.authenticate(tokens["r-us"])
    # The other recipient's token is unaffected.
    assert a.authenticate(tokens["r-cn"]).recipient_id == "r-cn"


def test_removed_recipient_is_refused_at_the_next_request(
    stores: tuple[Store, Store, Store],
) -> None:
    tokens = _seed(stores[2])
    a, _ = _workers(stores)
    a.authenticate(tokens["r-us"])
    recipients.remove(stores[2], "r-us", actor="tests")
    with pytest.raises(AuthError):
        a.authenticate(tokens["r-us"])


def test_designation_reaches_every_worker_at_the_next_request(
    stores: tuple[Store, Store, Store],
) -> None:
    tokens = _seed(stores[2])
    a, b = _workers(stores)
    for gk in (a, b):
        allowed = gk.check(_ctx(gk, tokens["r-cn"], PUBLISHED, "model.safetensors"))
        assert allowed.verdict is Verdict.ALLOW
    models.designate(stores[2], "open/small", reason="is-informed letter", actor="tests")
    for gk in (a, b):
        refused = gk.check(_ctx(gk, tokens["r-cn"], PUBLISHED, "model.safetensors"))
        assert refused.verdict is Verdict.DENY, refused.basis


def test_new_license_reaches_the_next_request(stores: tuple[Store, Store, Store]) -> None:
    tokens = _seed(stores[2])
    frontier = ModelFacts(
        repo_id="lab/frontier", published=False, training_compute=ComputeInterval.exactly(3e26)
    )
    a, _ = _workers(stores)
    first = a.check(_ctx(a, tokens["r-cn"], frontier, "model.safetensors"))
    assert not first.allowed
    licenses.add(
        stores[2],
        "BIS-1",
        recipient_id="r-cn",
        models=["lab/frontier"],
        destinations=["CN"],
        valid_until=date.today() + timedelta(days=30),
        actor="tests",
    )
    second = a.check(_ctx(a, tokens["r-cn"], frontier, "model.safetensors"))
    assert second.verdict is Verdict.ALLOW and second.basis == "licensed"


def test_license_cap_stays_exact_with_the_cache(stores: tuple[Store, Store, Store]) -> None:
    tokens = _seed(stores[2])
    frontier = ModelFacts(
        repo_id="lab/frontier", published=False, training_compute=ComputeInterval.exactly(3e26)
    )
    licenses.add(
        stores[2],
        "BIS-CAP",
        recipient_id="r-cn",
        models=["lab/frontier"],
        destinations=["CN"],
        valid_until=date.today() + timedelta(days=30),
        max_transfers=2,
        actor="tests",
    )
    a, b = _workers(stores)
    # A cap counts transfers: the first download of each file, per recipient, commit and file.
    verdicts = [
        gk.check(_ctx(gk, tokens["r-cn"], frontier, f"model-0000{i}-of-00005.safetensors")).basis
        for i, gk in enumerate((a, b, a, b, a), 1)
    ]
    assert verdicts.count("licensed") == 2, verdicts
    # Downloading a counted file again uses none of the cap.
    counted = verdicts.index("licensed") + 1
    again = b.check(_ctx(b, tokens["r-cn"], frontier, f"model-0000{counted}-of-00005.safetensors"))
    assert again.basis == "licensed"
