"""Decisions made on the event loop from memory, appended by the store's writer thread.

What a user relies on: a decision from memory is recorded exactly like one from the records (in
the chain, verifiable); concurrent decisions share transactions; and a change to the records
made by another worker, replica or the operator between the moment memory answered and the
moment the entry is appended is never missed: the decision is not recorded, and the request is
decided again from the records. Both SQLite and PostgreSQL (`database_url`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select

from gate.core.values import ModelFacts, Verdict
from gate.errors import AuthError, StoreError
from gate.rules.loader import load_default_ruleset
from gate.service.gatekeeper import GateAnswer, TransferContext
from gate.service.records_gatekeeper import StoreGatekeeper
from gate.store import audit, credentials, models, recipients
from gate.store.db import Store, open_store
from gate.store.schema import audit_entries
from tests.service.downloads import whole_file_get

PUBLISHED = ModelFacts(repo_id="open/small", published=True, publication_evidence="apache-2.0")


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[Store, Store]]:
    """The worker's store and the operator's (another connection, as `gate records` would)."""
    opened = [open_store(database_url) for _ in range(2)]
    yield opened[0], opened[1]
    for store in opened:
        store.close()


def _seed(admin: Store) -> str:
    recipients.add(
        admin,
        "r-cn",
        actor="tests",
        name="Dragon AI",
        headquarters="CN",
        parent="self",
        destinations=["CN"],
        default_destination="CN",
    )
    token, _ = credentials.create_token(admin, "r-cn", actor="tests")
    return token


def _warm(gk: StoreGatekeeper, token: str, path: str = "model.safetensors") -> TransferContext:
    """One decision from the records (which fills memory); the context of the next request,
    authenticated from memory as the server does on its event loop."""
    first = gk.check(_ctx(gk, token, path, from_memory=False))
    assert first.verdict is Verdict.ALLOW
    return _ctx(gk, token, path, from_memory=True)


def _ctx(gk: StoreGatekeeper, token: str, path: str, *, from_memory: bool) -> TransferContext:
    caller = gk.remembered(token) if from_memory else gk.authenticate(token)
    assert caller is not None, "the token is not in memory"
    return whole_file_get(gk, caller, PUBLISHED, path)


def _decisions(store: Store) -> int:
    with store.read() as conn:
        query = select(func.count()).where(audit_entries.c.kind == "decision")
        return int(conn.execute(query).scalar_one())


def test_concurrent_decisions_from_memory_share_transactions(
    stores: tuple[Store, Store],
) -> None:
    worker, admin = stores
    gk = StoreGatekeeper(worker, load_default_ruleset(), signer=None)
    ctx = _warm(gk, _seed(admin))
    batches = worker.committer.batches

    async def many() -> list[GateAnswer | None]:
        return await asyncio.gather(*(gk.check_in_memory(ctx) for _ in range(40)))

    answers = asyncio.run(many())
    assert all(a is not None and a.verdict is Verdict.ALLOW for a in answers)
    # Forty decisions, each its own entry, in fewer transactions than decisions.
    assert worker.committer.batches - batches < 40
    ids = {a.decision_id for a in answers if a is not None}
    assert len(ids) == 40
    for decision_id in ids:
        entry = audit.get_entry(admin, decision_id)
        assert entry.payload["decision"]["verdict"] == "allow"
        assert entry.payload["meta"]["recipient_id"] == "r-cn"
    assert audit.verify_chain(admin).ok


def test_a_revocation_after_memory_answered_is_not_missed(stores: tuple[Store, Store]) -> None:
    worker, admin = stores
    gk = StoreGatekeeper(worker, load_default_ruleset(), signer=None)
    token = _seed(admin)
    ctx = _warm(gk, token)
    before = _decisions(admin)
    # The token is revoked after the server authenticated it from memory, before its decision
    # is appended: memory still holds it, but the decision must not be recorded as allowed.
    credentials.revoke(admin, token, actor="tests")
    assert asyncio.run(gk.check_in_memory(ctx)) is None
    assert _decisions(admin) == before
    assert gk.records is not None and gk.records.stale == 1
    with pytest.raises(AuthError):
        gk.check(ctx)


def test_a_designation_by_another_process_reaches_the_next_decision(
    stores: tuple[Store, Store],
) -> None:
    worker, admin = stores
    gk = StoreGatekeeper(worker, load_default_ruleset(), signer=None)
    ctx = _warm(gk, _seed(admin))
    assert asyncio.run(gk.check_in_memory(ctx)) is not None
    models.designate(admin, PUBLISHED.repo_id, reason="is-informed letter", actor="tests")
    assert asyncio.run(gk.check_in_memory(ctx)) is None
    assert gk.check(ctx).verdict is Verdict.DENY


def test_what_a_rolled_back_transaction_saw_is_not_trusted(stores: tuple[Store, Store]) -> None:
    """The writer confirms the records up to the head it reads inside its transaction and
    remembers that only if the transaction commits: an entry rolled back frees its sequence
    number for someone else's change, which must still be seen."""
    worker, admin = stores
    gk = StoreGatekeeper(worker, load_default_ruleset(), signer=None)
    token = _seed(admin)
    ctx = _warm(gk, token)
    records = gk.records
    assert records is not None
    recalled = records.recall(token, gk._key(ctx, gk.clock()))
    assert recalled is not None
    epoch = recalled[3]

    def confirm_append_then_fail(conn: object) -> None:
        head = records.confirm(conn, epoch)  # type: ignore[arg-type]
        assert head is not None
        entry = audit.append(conn, worker, "decision", {"test": "rolled back"})  # type: ignore[arg-type]
        records.appended(head, entry.seq)
        raise RuntimeError("the transaction fails after the append")

    with pytest.raises(RuntimeError):
        worker.committer.submit(confirm_append_then_fail)
    # The operator's revocation takes the sequence number the rolled-back entry had.
    credentials.revoke(admin, token, actor="tests")
    assert asyncio.run(gk.check_in_memory(ctx)) is None
    with pytest.raises(AuthError):
        gk.check(ctx)
    assert audit.verify_chain(admin).ok


def test_a_failed_append_fails_every_decision_of_its_batch(stores: tuple[Store, Store]) -> None:
    """No record, no transfer: when the transaction cannot commit, every request waiting on it
    gets the error (a StoreError, which the server answers 503 with no byte)."""
    worker, admin = stores
    gk = StoreGatekeeper(worker, load_default_ruleset(), signer=None)
    ctx = _warm(gk, _seed(admin))
    before = _decisions(admin)
    real = worker.engine
    # A real failure: the worker's database becomes unreachable (no such folder, no server).
    gone = (
        "sqlite:////nonexistent-gate-folder/gate.db"
        if real.dialect.name == "sqlite"
        else "postgresql+psycopg://postgres@127.0.0.1:1/test"
    )
    worker.engine = create_engine(gone)
    try:

        async def many() -> list[object]:
            calls = (gk.check_in_memory(ctx) for _ in range(5))
            return await asyncio.gather(*calls, return_exceptions=True)

        results = asyncio.run(many())
    finally:
        worker.engine = real
    assert all(isinstance(r, StoreError) for r in results), results
    assert _decisions(admin) == before
    assert asyncio.run(gk.check_in_memory(ctx)) is not None
