"""The gatekeeper `gate serve` runs: credentials, facts, decision and audit from the records store.

Per request, in this order (fail closed at every step): the token names a recipient; the
recipient's records, licenses, inquiry and the operator's word on the model build the decision's
inputs; the pure decision decides; an allowed parameter file gets a signed receipt; the decision,
with its inputs and the receipt, is appended to the audit chain. Only an appended decision
returns an answer; any store failure raises StoreError and the server sends no byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gate.core.canonical import canonical_sha256
from gate.core.decide import decide
from gate.core.ruleset import Ruleset
from gate.core.values import Decision, ModelFacts, TransferRequest
from gate.crypto.keys import Signer
from gate.errors import InputError, NotFoundError, StoreError
from gate.service.gatekeeper import (
    Caller,
    GateAnswer,
    Mode,
    TransferContext,
    answer_from_decision,
)
from gate.service.receipting import (
    DEFAULT_RECEIPT_TTL,
    receipt_envelope,
    receipt_headers,
    wants_receipt,
)
from gate.store import audit, credentials, inquiries
from gate.store.db import Store
from gate.store.facts import build_transfer
from gate.store.record import RequestMeta, new_decision_id, record_decision, record_outcome


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StoreGatekeeper:
    """`Gatekeeper` over a records store; one per server process, shared by its threads."""

    def __init__(
        self,
        store: Store,
        ruleset: Ruleset,
        *,
        signer: Signer | None,
        mode: Mode = "enforce",
        clock: Callable[[], datetime] = _utc_now,
        receipt_ttl: timedelta = DEFAULT_RECEIPT_TTL,
    ) -> None:
        if mode not in ("enforce", "shadow"):
            raise InputError("mode", f"expected enforce or shadow, got {mode!r}")
        self.store = store
        self.ruleset = ruleset
        self.signer = signer
        self.mode: Mode = mode
        self.clock = clock
        self.receipt_ttl = receipt_ttl

    def authenticate(self, token: str | None) -> Caller:
        record = credentials.authenticate(self.store, token)
        return Caller(
            recipient_id=record.id,
            name=record.name,
            default_destination=record.default_destination,
            destinations=record.destinations,
        )

    def is_parameters(self, path: str) -> bool:
        return self.ruleset.is_parameters(path)

    def check(self, ctx: TransferContext) -> GateAnswer:
        now = self.clock()
        facts = ctx.model_facts or ModelFacts(repo_id=ctx.repo_id)
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
        decision = decide(request, self.ruleset)
        decision_id = new_decision_id()
        envelope = self.sign_receipt(decision, decision_id, ctx, request, now)
        meta = RequestMeta(
            recipient_id=ctx.caller.recipient_id,
            repo_id=ctx.repo_id,
            revision=ctx.revision,
            commit=ctx.commit,
            file=ctx.path,
            sha256=ctx.sha256,
            size=ctx.size,
            client_address=ctx.client,
            method=ctx.method,
            range=None if ctx.byte_range is None else f"{ctx.byte_range[0]}-{ctx.byte_range[1]}",
            request_id=decision_id,
        )
        entry = record_decision(
            self.store,
            request,
            decision,
            meta,
            self.mode,
            decision_id=decision_id,
            extra={"receipt": envelope, "note": note},
        )
        answer = answer_from_decision(
            decision_id,
            decision,
            ctx,
            mode=self.mode,
            inquiry_id=entry.inquiry_id,
            headers=receipt_headers(envelope),
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

    @staticmethod
    def _snapshot_ref(caller: Caller, repo_id: str, commit: str, bucket: int) -> str:
        key = canonical_sha256([caller.recipient_id, repo_id, commit, bucket])
        return f"snap_{key[:59]}"  # the audit ref column holds 64 characters

    def stored_snapshot(
        self, caller: Caller, repo_id: str, commit: str, bucket: int
    ) -> bytes | None:
        for candidate in (bucket, bucket - 1):
            try:
                entry = audit.get_entry(
                    self.store, self._snapshot_ref(caller, repo_id, commit, candidate)
                )
            except NotFoundError:
                continue
            return str(entry.payload["bundle"]).encode("utf-8")
        return None

    def keep_snapshot(
        self, caller: Caller, repo_id: str, commit: str, bucket: int, data: bytes
    ) -> bytes:
        ref = self._snapshot_ref(caller, repo_id, commit, bucket)
        payload = {
            "recipient_id": caller.recipient_id,
            "repo_id": repo_id,
            "commit": commit,
            "bucket": bucket,
            "bundle": data.decode("utf-8"),
        }
        try:
            # Its own transaction: a lost race (the ref is unique) must not fail other appends.
            with self.store.write() as conn:
                audit.append(
                    conn,
                    self.store,
                    "snapshot",
                    payload,
                    ref=ref,
                    recipient_id=caller.recipient_id,
                    repo_id=repo_id,
                )
        except StoreError:
            kept = self.stored_snapshot(caller, repo_id, commit, bucket)
            if kept is None:
                raise
            return kept
        return data

    def ready(self) -> None:
        self.store.ping()
