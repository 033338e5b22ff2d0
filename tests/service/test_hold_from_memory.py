"""A hold decided from memory never adds questions to its inquiry inside a group commit.

Adding questions locks the inquiry's row, and the group commit's transaction may hold the audit
head already (answers and reviews take the row first, then the head: a deadlock across
replicas). So when memory's hold asks something its open inquiry does not, nothing is written
from memory; `check` records the hold in a transaction of its own, adding the questions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from gate.core.values import ModelFacts, Verdict
from gate.rules.loader import load_default_ruleset
from gate.service.gatekeeper import TransferContext
from gate.service.records_gatekeeper import StoreGatekeeper
from gate.store import credentials, recipients
from gate.store.db import Store, open_store
from gate.store.schema import inquiries as inquiries_t

MYSTERY = ModelFacts(repo_id="lab/mystery", commit="e" * 40)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


def _ctx(gk: StoreGatekeeper, token: str, *, from_memory: bool) -> TransferContext:
    caller = gk.remembered(token) if from_memory else gk.authenticate(token)
    assert caller is not None
    return TransferContext(
        caller=caller,
        repo_id=MYSTERY.repo_id,
        revision="main",
        commit=MYSTERY.commit or "",
        path="model.safetensors",
        size=10,
        sha256="0" * 64,
        is_parameters=True,
        destination=None,
        client="127.0.0.1",
        method="GET",
        byte_range=None,
        model_facts=MYSTERY,
        counts_transfer=True,
    )


def _questions(store: Store) -> list[str]:
    with store.read() as conn:
        return list(json.loads(conn.execute(select(inquiries_t.c.questions)).scalar_one()))


def test_a_hold_with_questions_to_add_is_recorded_by_check(store: Store) -> None:
    recipients.add(
        store, "r-us", actor="t", name="Acme", headquarters="US", parent="self", destinations=["US"]
    )
    token, _ = credentials.create_token(store, "r-us", actor="t")
    gk = StoreGatekeeper(store, load_default_ruleset(), signer=None)
    first = gk.check(_ctx(gk, token, from_memory=False))  # fills memory, opens the inquiry
    assert first.verdict is Verdict.HOLD
    asked = _questions(store)
    assert asked
    gk.check(_ctx(gk, token, from_memory=False))  # memory now past the inquiry's opening
    ctx = _ctx(gk, token, from_memory=True)
    reused = asyncio.run(gk.check_in_memory(ctx))  # from memory: the inquiry asks it all
    assert reused is not None and reused.inquiry_id == first.inquiry_id
    # The inquiry loses its questions behind memory's back (no audit entry: memory keeps its
    # answers), so the hold memory decides would add them.
    with store.write() as conn:
        conn.execute(update(inquiries_t).values(questions="[]"))
    batches = store.committer.batches
    assert asyncio.run(gk.check_in_memory(ctx)) is None
    assert store.committer.batches == batches + 1  # it went to the writer, which wrote nothing
    assert _questions(store) == []
    again = gk.check(ctx)
    assert again.verdict is Verdict.HOLD and again.inquiry_id == first.inquiry_id
    assert _questions(store) == asked
