"""One request's entry that cannot be written does not take other requests' down with it.

Decisions decided from the records are appended by the store's writer thread, many in one
transaction. A decision whose entry cannot be encoded (a hostile model card's license field with
a lone surrogate ends up in the model's facts, which no UTF-8 encoder takes) fails; before the
writer thread it failed alone, in its own request's thread. It must still fail alone: another
recipient's decision queued in the same transaction is recorded and answered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.core.values import ModelFacts, Verdict
from gate.rules.loader import load_default_ruleset
from gate.service.gatekeeper import TransferContext
from gate.service.records_gatekeeper import StoreGatekeeper
from gate.store import audit, credentials, recipients
from gate.store.db import Store, open_store
from tests.server.conftest import safetensors_bytes
from tests.server.test_classifying import facts_for

_WAIT = 10.0


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


def _ctx(gk: StoreGatekeeper, token: str, facts: ModelFacts) -> TransferContext:
    return TransferContext(
        caller=gk.authenticate(token),
        repo_id=facts.repo_id,
        revision="main",
        commit=facts.commit or "d" * 40,
        path="model.safetensors",
        size=10,
        sha256="0" * 64,
        is_parameters=True,
        destination=None,
        client="127.0.0.1",
        method="GET",
        byte_range=None,
        model_facts=facts,
        counts_transfer=True,
    )


def test_an_entry_that_cannot_be_encoded_fails_alone(store: Store, tmp_path: Path) -> None:
    recipients.add(
        store, "r-us", actor="t", name="Acme", headquarters="US", parent="self", destinations=["US"]
    )
    token, _ = credentials.create_token(store, "r-us", actor="t")
    hostile = facts_for(
        tmp_path / "hub",
        "evil/card",
        {"README.md": b'---\nlicense: "\\ud800"\n---\n', "model.safetensors": safetensors_bytes(5)},
    )
    assert "\ud800" in (hostile.publication_evidence or "")
    innocent = ModelFacts(repo_id="open/small", published=True, publication_evidence="apache-2.0")
    gk = StoreGatekeeper(store, load_default_ruleset(), signer=None, cache_ttl=None)
    bad, good = _ctx(gk, token, hostile), _ctx(gk, token, innocent)

    release = threading.Event()
    results: dict[str, Any] = {}

    def run(name: str, work: Any) -> threading.Thread:
        def target() -> None:
            try:
                results[name] = work()
            except Exception as exc:  # what each request got
                results[name] = exc

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread

    # The writer busy, so both decisions wait for, and share, its next transaction.
    threads = [run("busy", lambda: store.committer.submit(lambda _c: release.wait(_WAIT)))]
    threads.append(run("bad", lambda: gk.check(bad)))
    threads.append(run("good", lambda: gk.check(good)))
    # Both requests queued for the writer, or (failing before they reach it) answered.
    deadline = time.monotonic() + _WAIT
    while len(store.committer._queue) + sum(n in results for n in ("bad", "good")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    release.set()
    for thread in threads:
        thread.join(2 * _WAIT)
        assert not thread.is_alive()

    assert isinstance(results["bad"], Exception)
    answer = results["good"]
    assert not isinstance(answer, Exception), answer
    assert answer.verdict is Verdict.ALLOW
    entry = audit.get_entry(store, answer.decision_id)
    assert entry.payload["meta"]["repo_id"] == "open/small"
    assert audit.verify_chain(store).ok
