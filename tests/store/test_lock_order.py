"""Replicas never deadlock on the records' row locks (PostgreSQL).

Every write transaction that changes a record locks that record's row first and the audit head
last (an officer's license change, an inquiry's answer or review, a decision under a capped
license, a hold adding questions to an inquiry). A group commit runs many decisions in one
transaction and locks the head at its first append; a decision that then locks a license or
inquiry row inside that same transaction takes the two locks the other way round. With another
replica holding the row while it waits for the head, PostgreSQL breaks the deadlock by failing
one side: every request of that batch got a store error (worded "cannot reach database").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from gate.core.decide import decide
from gate.core.ruleset import Ruleset
from gate.core.values import ModelFacts, Verdict
from gate.errors import StoreError
from gate.rules.loader import load_default_ruleset
from gate.store import audit, inquiries, licenses, recipients
from gate.store.db import Store, open_store
from gate.store.facts import build_request
from gate.store.record import RequestMeta, record_in, record_transfer
from gate.store.schema import inquiries as inquiries_t
from tests.store.test_decision_records import CONTROLLED, DAY

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

_WAIT = 10.0
"""Bound on every wait, so a broken lock order shows as a failure rather than a hung run."""


@pytest.fixture
def replicas(pg_schema_url: str) -> Iterator[tuple[Store, Store]]:
    first = open_store(pg_schema_url)
    second = open_store(pg_schema_url)
    yield first, second
    first.close()
    second.close()


def _setup(store: Store) -> None:
    # `acme` (an `other` country) needs its capped license for the controlled model;
    # `ally` (allied) is decided without one.
    recipients.add(
        store, "acme", actor="t", name="Acme", headquarters="IN", parent="self", destinations=["IN"]
    )
    recipients.add(
        store, "ally", actor="t", name="Ally", headquarters="DE", parent="self", destinations=["DE"]
    )
    licenses.add(
        store,
        "D-777",
        recipient_id="acme",
        models=[CONTROLLED.repo_id],
        destinations=["IN"],
        valid_until=date(2027, 1, 1),
        max_transfers=10,
        actor="officer",
    )


def _transfer(
    store: Store,
    ruleset: Ruleset,
    recipient: str,
    file: str,
    extra: Any = None,
    facts: ModelFacts = CONTROLLED,
) -> Callable[[], Any]:
    request = build_request(
        store,
        recipient=recipient,
        repo_id=facts.repo_id,
        commit=facts.commit,
        revision="main",
        file=file,
        destination=None,
        day=DAY,
        model_facts=facts,
    )
    meta = RequestMeta(
        recipient_id=recipient, repo_id=facts.repo_id, commit=facts.commit, file=file
    )
    decision = decide(request, ruleset)

    def run() -> Any:
        return record_transfer(
            store,
            request,
            decision,
            meta,
            extra=extra,
            counted=True,
            redecide=lambda r: decide(r, ruleset),
        )

    def inside(conn: Any) -> Any:
        return record_in(conn, store, request, decision, meta, "enforce", decision_id="dec_x")

    run.inside = inside  # type: ignore[attr-defined]
    run.decision = decision  # type: ignore[attr-defined]
    return run


def _in_thread(work: Callable[[], Any], results: dict[str, Any], name: str) -> threading.Thread:
    def target() -> None:
        try:
            results[name] = work()
        except Exception as exc:  # the test reports what each side got
            results[name] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _until(condition: Callable[[], bool], bound: float = _WAIT) -> bool:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_capped_license_decision_and_another_replica_do_not_deadlock(
    replicas: tuple[Store, Store],
) -> None:
    one, two = replicas
    _setup(one)
    ruleset = load_default_ruleset()
    results: dict[str, Any] = {}
    two_has_license, one_has_head, release = threading.Event(), threading.Event(), threading.Event()

    # Replica two: a decision under D-777 that has locked the license row and not yet the head.
    def paused(_standing: Any) -> None:
        two_has_license.set()
        one_has_head.wait(_WAIT)
        return None

    licensed_two = _transfer(two, ruleset, "acme", "model-00002.safetensors", extra=paused)
    assert licensed_two.decision.license_used == "D-777"  # type: ignore[attr-defined]
    threads = [_in_thread(licensed_two, results, "two")]
    assert two_has_license.wait(_WAIT)

    # Replica one: its writer busy, so what is asked next is written in one transaction: a
    # decision without a license (which locks the head), then one under D-777.
    def busy(_conn: Any) -> None:
        release.wait(_WAIT)

    threads.append(_in_thread(lambda: one.committer.submit(busy), results, "busy"))
    assert _until(lambda: one.committer.batches == 0 and not one.committer._queue)
    plain = _transfer(one, ruleset, "ally", "model-00001.safetensors")
    assert plain.decision.license_used is None  # type: ignore[attr-defined]

    def plain_then_signal(conn: Any) -> Any:
        done = plain.inside(conn)  # type: ignore[attr-defined]
        one_has_head.set()
        return done

    threads.append(_in_thread(lambda: one.committer.submit(plain_then_signal), results, "plain"))
    assert _until(lambda: len(one.committer._queue) == 1)
    licensed_one = _transfer(one, ruleset, "acme", "model-00003.safetensors")
    threads.append(_in_thread(licensed_one, results, "licensed"))
    # Queued behind the plain decision if it joins the group commit (else it waits for the
    # store's write lock, and this wait runs out).
    _until(lambda: len(one.committer._queue) == 2, 2.0)
    release.set()
    for thread in threads:
        thread.join(2 * _WAIT)
        assert not thread.is_alive()

    failures = {k: v for k, v in results.items() if isinstance(v, StoreError)}
    assert not failures, failures
    assert licenses.get(one, "D-777").transfers == 2
    assert audit.verify_chain(one).ok


def test_a_hold_adding_questions_and_an_answer_on_another_replica_do_not_deadlock(
    replicas: tuple[Store, Store],
) -> None:
    one, two = replicas
    _setup(one)
    ruleset = load_default_ruleset()
    mystery = ModelFacts(repo_id="org/mystery", commit="c" * 40)
    with one.write() as conn:  # an inquiry asking less than the hold will ask
        asked = inquiries.open_or_reuse(conn, one, "ally", mystery.repo_id, ["intended_use"])
    results: dict[str, Any] = {}
    two_has_row, one_has_head, release = threading.Event(), threading.Event(), threading.Event()

    # Replica two: an answer to that inquiry, as `inquiries.answer` takes its locks: the
    # inquiry row first, the audit head when it appends.
    def answer_on_two() -> None:
        with two.write() as conn:
            conn.execute(select(inquiries_t).where(inquiries_t.c.id == asked).with_for_update())
            two_has_row.set()
            one_has_head.wait(_WAIT)
            audit.append(conn, two, "inquiry", {"event": "answered", "inquiry_id": asked})

    threads = [_in_thread(answer_on_two, results, "two")]
    assert two_has_row.wait(_WAIT)

    def busy(_conn: Any) -> None:
        release.wait(_WAIT)

    threads.append(_in_thread(lambda: one.committer.submit(busy), results, "busy"))
    assert _until(lambda: one.committer.batches == 0 and not one.committer._queue)
    plain = _transfer(one, ruleset, "ally", "model-00001.safetensors")

    def plain_then_signal(conn: Any) -> Any:
        done = plain.inside(conn)  # type: ignore[attr-defined]
        one_has_head.set()
        return done

    threads.append(_in_thread(lambda: one.committer.submit(plain_then_signal), results, "plain"))
    assert _until(lambda: len(one.committer._queue) == 1)
    hold = _transfer(one, ruleset, "ally", "model.safetensors", facts=mystery)
    assert hold.decision.verdict is Verdict.HOLD  # type: ignore[attr-defined]
    threads.append(_in_thread(hold, results, "hold"))
    _until(lambda: len(one.committer._queue) == 2, 2.0)
    release.set()
    for thread in threads:
        thread.join(2 * _WAIT)
        assert not thread.is_alive()

    failures = {k: v for k, v in results.items() if isinstance(v, StoreError)}
    assert not failures, failures
    assert results["hold"][1].inquiry_id == asked
    assert audit.verify_chain(one).ok
