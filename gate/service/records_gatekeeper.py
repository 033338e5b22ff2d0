"""The gatekeeper `gate serve` runs: credentials, facts, decision and audit from the records store.

Per request, in this order (fail closed at every step): the token names a recipient; the
recipient's records, licenses, inquiry, screening status and the operator's word on the model
build the decision's inputs; the pure decision decides under the ruleset set (most restrictive
wins); a decision under a capped license is settled against the cap in the same transaction as
its audit entry (a transfer that counts takes one, an exhausted cap takes the license away and
the request is decided again); an allowed parameter file gets a signed receipt; the decision,
with its inputs and the receipt, is appended to the audit chain. Only an appended decision
returns an answer; any store failure raises StoreError and the server sends no byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from gate.core.files import FileCheck
from gate.core.ruleset_set import AnyRuleset, RulesetSet, decide_all
from gate.core.values import Decision, ModelFacts, TransferRequest
from gate.crypto.keys import Signer
from gate.errors import AuthError, InputError, NotFoundError
from gate.service.context import request_meta
from gate.service.gatekeeper import (
    Caller,
    GateAnswer,
    Mode,
    TransferContext,
    answer_from_decision,
    explain,
)
from gate.service.receipting import (
    DEFAULT_RECEIPT_TTL,
    receipt_envelope,
    receipt_headers,
    wants_receipt,
)
from gate.service.records_cache import Key, RecordsCache
from gate.store import audit, bundles, credentials, inquiries
from gate.store.audit import AuditEntry
from gate.store.db import Store
from gate.store.facts import build_transfer
from gate.store.record import (
    Prepared,
    new_decision_id,
    record_in,
    record_outcome,
    record_transfer,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


_MAX_MEMO = 20_000
"""Decisions kept (each with its request and canonical JSON, a few KB): then start again."""


@dataclass(frozen=True, slots=True)
class _Decided:
    """A decision made from memory, kept for the next request with the same inputs."""

    epoch: int
    """The records cache's epoch it was made under (a later epoch: made again)."""
    request: TransferRequest
    decision: Decision
    prepared: Prepared
    heads: dict[str | None, str]
    """The answer's message up to the decision id, by the inquiry a hold opened or reused."""


class StoreGatekeeper:
    """`Gatekeeper` over a records store; one per server process, shared by its threads."""

    def __init__(
        self,
        store: Store,
        rulesets: RulesetSet | AnyRuleset,
        *,
        signer: Signer | None,
        mode: Mode = "enforce",
        clock: Callable[[], datetime] = _utc_now,
        receipt_ttl: timedelta = DEFAULT_RECEIPT_TTL,
        cache_ttl: float | None = 2.0,
    ) -> None:
        if mode not in ("enforce", "shadow"):
            raise InputError("mode", f"expected enforce or shadow, got {mode!r}")
        self.store = store
        self.rulesets = rulesets if isinstance(rulesets, RulesetSet) else RulesetSet((rulesets,))
        self.signer = signer
        self.mode: Mode = mode
        self.clock = clock
        self.receipt_ttl = receipt_ttl
        self.records = None if cache_ttl is None else RecordsCache(store, ttl=cache_ttl)
        """The records a decision reads, from memory (None: read for every request)."""
        self._memo: dict[tuple[Key, bool], _Decided] = {}

    def authenticate(self, token: str | None) -> Caller:
        if self.records is not None:
            record = self.records.authenticate(token)
        else:
            record = credentials.authenticate(self.store, token)
        return Caller(
            recipient_id=record.id,
            name=record.name,
            default_destination=record.default_destination,
            destinations=record.destinations,
        )

    def remembered(self, token: str | None) -> Caller | None:
        """The caller behind a token from memory, without touching the database (None: ask
        `authenticate`). `check` authenticates the token again before it decides."""
        record = None if self.records is None else self.records.remembered(token)
        if record is None:
            return None
        return Caller(
            recipient_id=record.id,
            name=record.name,
            default_destination=record.default_destination,
            destinations=record.destinations,
            token=token,
        )

    def is_parameters(self, path: str) -> bool:
        """Parameters when any ruleset of the set says so."""
        return self.rulesets.is_parameters(path)

    def check_file(
        self, path: str, head: bytes | None = None, size: int | None = None
    ) -> FileCheck:
        """The set's fail-closed file test (parameters when any ruleset says so)."""
        return self.rulesets.check_file(path, head, size)

    def check(self, ctx: TransferContext) -> GateAnswer:
        fresh = True
        if self.records is not None and ctx.caller.token is not None:
            # Authenticated from memory on the event loop: check the token against the records
            # now (AuthError: revoked meanwhile), which also checks the cache is fresh.
            if self.records.authenticate(ctx.caller.token).id != ctx.caller.recipient_id:
                raise AuthError(credentials.AUTH_FAILED)
            fresh = False
        now = self.clock()
        facts = ctx.model_facts or ModelFacts(repo_id=ctx.repo_id)
        if self.records is None:
            request, note = build_transfer(
                self.store,
                recipient=ctx.caller.recipient_id,
                repo_id=ctx.repo_id,
                commit=ctx.commit,
                revision=ctx.revision,
                file=ctx.path,
                destination=ctx.destination,
                day=now.date(),
                model_facts=facts,
            )
        else:
            request, note = self.records.transfer(
                recipient_id=ctx.caller.recipient_id,
                repo_id=ctx.repo_id,
                commit=ctx.commit,
                revision=ctx.revision,
                file=ctx.path,
                destination=ctx.destination,
                day=now.date(),
                model_facts=facts,
                fresh=fresh,
            )
        # What the server found looking at the bytes (a name alone never clears them).
        request = replace(request, file_is_parameters=ctx.is_parameters)
        decision_id = new_decision_id()
        receipts: dict[str, dict[str, object] | None] = {}

        def extra(standing: Decision) -> dict[str, Any]:
            # The receipt is for the decision that stands (a cap may have taken the license).
            envelope = self.sign_receipt(standing, decision_id, ctx, request, now)
            receipts["envelope"] = envelope
            return {"receipt": envelope, "note": note}

        decision, entry = record_transfer(
            self.store,
            request,
            decide_all(request, self.rulesets),
            request_meta(ctx, decision_id),
            self.mode,
            decision_id=decision_id,
            extra=extra,
            counted=ctx.counts_transfer,
            redecide=lambda changed: decide_all(changed, self.rulesets),
        )
        return self._answer(decision_id, decision, entry, ctx, receipts.get("envelope"), note)

    async def check_in_memory(self, ctx: TransferContext) -> GateAnswer | None:
        """`check` on the event loop, for a caller and request the records cache knows: the
        decision from memory, its entry appended by the store's writer thread (with other
        requests' in one transaction) after `RecordsCache.confirm` has found the records
        unchanged. None when something is not in memory, a license is involved (caps are
        settled from the records), or the records changed: then `check` decides."""
        records, token = self.records, ctx.caller.token
        if records is None or token is None:
            return None
        now = self.clock()
        key = self._key(ctx, now)
        recalled = records.recall(token, key)
        if recalled is None:
            return None
        recipient, request, note, epoch = recalled
        if recipient.id != ctx.caller.recipient_id or request.licenses:
            return None
        memo = self._decided(ctx, request, epoch, key)
        if memo.decision.license_used is not None:
            return None
        decision = memo.decision
        decision_id = new_decision_id()
        # Signed here, outside the writer's transaction (no license: this decision stands).
        envelope = self.sign_receipt(decision, decision_id, ctx, memo.request, now)
        meta = request_meta(ctx, decision_id)
        store, mode = self.store, self.mode

        def append(conn: Connection) -> tuple[Decision, AuditEntry] | None:
            head = records.confirm(conn, epoch)
            if head is None:
                return None  # a record changed since the cache answered: decide again
            done = record_in(
                conn,
                store,
                memo.request,
                decision,
                meta,
                mode,
                decision_id=decision_id,
                extra={"receipt": envelope, "note": note},
                counted=ctx.counts_transfer,
                prepared=memo.prepared,
                grow_inquiry=False,
            )
            if done is None:
                return None  # a hold adds questions: `check` records it in its own transaction
            records.appended(head, done[1].seq)
            return done

        done = await store.committer.submit_async(append)
        if done is None:
            return None
        inquiry_id = done[1].inquiry_id
        head_line = memo.heads.get(inquiry_id)
        if head_line is None:
            head_line = memo.heads[inquiry_id] = explain(decision, ctx, inquiry_id)
        explained = (head_line, memo.prepared.decision_dict)
        return self._answer(decision_id, decision, done[1], ctx, envelope, note, explained)

    def _decided(
        self, ctx: TransferContext, request: TransferRequest, epoch: int, key: Key
    ) -> _Decided:
        """The decision of a request from memory, made once per request, file test and epoch
        of the records cache (deciding is pure: the same inputs give the same decision)."""
        memo_key = (key, ctx.is_parameters)
        known = self._memo.get(memo_key)
        if known is not None and known.epoch == epoch:
            return known
        # What the server found looking at the bytes (a name alone never clears them).
        request = replace(request, file_is_parameters=ctx.is_parameters)
        decision = decide_all(request, self.rulesets)
        made = _Decided(epoch, request, decision, Prepared.of(request, decision), {})
        if len(self._memo) >= _MAX_MEMO:
            self._memo.clear()
        self._memo[memo_key] = made
        return made

    def _key(self, ctx: TransferContext, now: datetime) -> Key:
        """The records cache's key for the request `ctx` asks for on `now`'s day."""
        facts = ctx.model_facts or ModelFacts(repo_id=ctx.repo_id)
        return (
            ctx.caller.recipient_id,
            ctx.repo_id,
            ctx.commit,
            ctx.revision,
            ctx.path,
            ctx.destination,
            now.date(),
            facts,
        )

    def _answer(
        self,
        decision_id: str,
        decision: Decision,
        entry: AuditEntry,
        ctx: TransferContext,
        envelope: dict[str, object] | None,
        note: str | None,
        explained: tuple[str, Mapping[str, Any]] | None = None,
    ) -> GateAnswer:
        answer = answer_from_decision(
            decision_id,
            decision,
            ctx,
            mode=self.mode,
            inquiry_id=entry.inquiry_id,
            headers=receipt_headers(envelope),
            explained=explained,
        )
        if note is None:
            return answer
        return replace(answer, message=f"{answer.message}; {note}")

    def sign_receipt(
        self,
        decision: Decision,
        decision_id: str,
        ctx: TransferContext,
        request: TransferRequest,
        now: datetime,
    ) -> dict[str, object] | None:
        """The signed receipt for an allowed parameter file (None: no receipt is due)."""
        if self.signer is None or not wants_receipt(decision, ctx):
            return None
        return receipt_envelope(
            decision,
            decision_id,
            ctx,
            self.signer,
            recipient_name=ctx.caller.name,
            destination=request.destination,
            declaration_id=request.model.declaration_id,
            now=now,
            ttl=self.receipt_ttl,
        )

    def record_outcome(self, decision_id: str, outcome: str, detail: str) -> None:
        record_outcome(self.store, decision_id, outcome, detail)

    def answer_inquiry(
        self, caller: Caller, inquiry_id: str, answers: Mapping[str, Any]
    ) -> dict[str, Any]:
        record = inquiries.answer(
            self.store,
            inquiry_id,
            answers,
            by=f"recipient:{caller.recipient_id}",
            recipient_id=caller.recipient_id,
        )
        return record.to_dict()

    def inquiry(self, caller: Caller, inquiry_id: str) -> dict[str, Any]:
        try:
            record = inquiries.get(self.store, inquiry_id)
        except NotFoundError:
            record = None
        if record is None or record.recipient_id != caller.recipient_id:
            raise NotFoundError(f"unknown inquiry {inquiry_id!r}")  # others' stay unseen
        return record.to_dict()

    def receipt(self, caller: Caller, decision_id: str) -> dict[str, Any]:
        """The receipt of a decision, for the recipient it names only (others: not found)."""
        try:
            entry = audit.get_entry(self.store, decision_id)
        except NotFoundError:
            raise NotFoundError(f"no receipt for decision {decision_id!r}") from None
        payload = entry.payload
        receipt = payload.get("receipt") if entry.kind == "decision" else None
        owner = (payload.get("meta") or {}).get("recipient_id")
        if receipt is None or owner != caller.recipient_id:
            raise NotFoundError(f"no receipt for decision {decision_id!r}")
        return dict(receipt)

    def records_generation(self) -> int:
        return bundles.current_generation(self.store)

    def stored_snapshot(
        self, caller: Caller, repo_id: str, commit: str, bucket: int, generation: int
    ) -> bytes | None:
        return bundles.stored(self.store, caller.recipient_id, repo_id, commit, bucket, generation)

    def keep_snapshot(
        self,
        caller: Caller,
        repo_id: str,
        commit: str,
        bucket: int,
        generation: int,
        data: bytes,
    ) -> bytes:
        return bundles.keep(
            self.store, caller.recipient_id, repo_id, commit, bucket, generation, data
        )

    def ready(self) -> None:
        self.store.ping()
