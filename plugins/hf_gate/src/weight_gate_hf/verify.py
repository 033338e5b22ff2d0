"""Checking one receipt against the file it should vouch for, for downloads and the cache alike."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from weight_gate_hf.errors import GateVerificationError
from weight_gate_hf.receipts import ReceiptClaims, unverified_claims, verify_receipt


def check_receipt(
    envelope: Mapping[str, Any],
    keys: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    where: str,
    repo_id: str,
    commit: str,
    path: str,
    recipient_id: str,
    now: datetime | None,
    sha256: str | None = None,
    size: int | None = None,
) -> ReceiptClaims:
    """Verify signature, repo, commit, path, recipient, expiry (and digest/size when given).

    `now=None` checks the receipt as of its own issue time: a receipt vouches for a transfer
    when it happened, so a file received in time stays verifiable after the receipt expires.
    Raises GateVerificationError prefixed with `where` (what was being checked).
    """
    try:
        claimed = unverified_claims(envelope)
        return verify_receipt(
            envelope,
            keys,
            repo_id=repo_id,
            commit=commit,
            path=path,
            sha256=sha256 if sha256 is not None else claimed.sha256,
            size=size if size is not None else claimed.size,
            recipient_id=recipient_id,
            now=now if now is not None else claimed.issued_at,
        )
    except GateVerificationError as exc:
        raise GateVerificationError(f"{where}: receipt rejected: {exc}") from exc
