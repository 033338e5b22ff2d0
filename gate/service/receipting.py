"""Signed receipts for allowed parameter files: the one function every gatekeeper calls.

A receipt is only issued when bytes of a parameter file may flow because the decision allowed
them (never for a shadow-mode pass of a refused file: the gate does not vouch for what it would
have blocked). The proxy sends it as `X-Gate-Receipt` on HEAD and GET.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gate.core.values import Decision
from gate.crypto.keys import Signer
from gate.crypto.receipts import (
    RECEIPT_HEADER,
    ReceiptClaims,
    build_receipt_statement,
    encode_receipt_header,
    sign_receipt,
)
from gate.service.gatekeeper import TransferContext

DEFAULT_RECEIPT_TTL = timedelta(hours=24)


def receipt_envelope(
    decision: Decision,
    decision_id: str,
    ctx: TransferContext,
    signer: Signer,
    *,
    recipient_name: str,
    destination: str | None,
    declaration_id: str | None,
    now: datetime,
    ttl: timedelta = DEFAULT_RECEIPT_TTL,
) -> dict[str, object]:
    """The signed DSSE envelope vouching for this allowed transfer."""
    claims = ReceiptClaims.from_decision(
        decision,
        decision_id=decision_id,
        repo_id=ctx.repo_id,
        commit=ctx.commit,
        path=ctx.path,
        sha256=ctx.sha256,
        size=ctx.size,
        recipient_id=ctx.caller.recipient_id,
        recipient_name=recipient_name,
        destination=destination,
        declaration_id=declaration_id,
        issued_at=now,
        ttl=ttl,
    )
    return sign_receipt(build_receipt_statement(claims), signer)


def receipt_headers(envelope: dict[str, object] | None) -> dict[str, str]:
    """`{X-Gate-Receipt: ...}` for an envelope, or nothing when there is none."""
    return {} if envelope is None else {RECEIPT_HEADER: encode_receipt_header(envelope)}


def wants_receipt(decision: Decision, ctx: TransferContext) -> bool:
    """Receipts go with allowed parameter files only."""
    return decision.allowed and ctx.is_parameters
