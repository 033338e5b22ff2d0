"""Recording decisions: the one call the proxy makes per transfer, before any byte leaves.

`record_decision` appends the decision with its full inputs to the audit chain (and, for a hold,
opens or reuses the inquiry in the same transaction). If it raises, the caller must not transfer:
no record, no transfer. In shadow mode the record says the decision was not enforced and whether
it would have blocked.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gate.core.canonical import canonical_json
from gate.core.values import Decision, TransferRequest, Verdict
from gate.errors import InputError
from gate.schema import request_to_dict
from gate.store import audit, inquiries
from gate.store.audit import AuditEntry
from gate.store.db import Store

Mode = Literal["enforce", "shadow"]


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """What the proxy knows about the request besides the decision's inputs."""

    recipient_id: str | None = None
    repo_id: str | None = None
    revision: str | None = None
    commit: str | None = None
    file: str | None = None
    sha256: str | None = None
    size: int | None = None
    client_address: str | None = None
    method: str | None = None
    range: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Spelled out: dataclasses.asdict deep-copies and costs more than the database insert.
        return {
            "recipient_id": self.recipient_id,
            "repo_id": self.repo_id,
            "revision": self.revision,
            "commit": self.commit,
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "client_address": self.client_address,
            "method": self.method,
            "range": self.range,
            "request_id": self.request_id,
        }


def new_decision_id() -> str:
    """`dec_` + 13 hex digits of microseconds since the epoch + 12 random hex digits.

    Time-ordered (like UUIDv7) so the lookup index on decision ids grows at its right edge
    instead of taking a random page write per append; the random part keeps ids unguessable.
    """
    return f"dec_{time.time_ns() // 1000:013x}{secrets.token_hex(6)}"


def record_decision(
    store: Store,
    request: TransferRequest,
    decision: Decision,
    meta: RequestMeta,
    mode: Mode = "enforce",
    *,
    decision_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append the decision to the audit chain; StoreError if it cannot be recorded.

    `extra` adds fields to the entry (the signed receipt, a note), under their own names;
    it cannot replace the decision's own fields.

    `entry.payload["allowed"]` says whether bytes may flow (always in shadow mode);
    `entry.inquiry_id` names the inquiry a hold opened or reused.
    """
    if mode not in ("enforce", "shadow"):
        raise InputError("mode", f"expected enforce or shadow, got {mode!r}")
    enforced = mode == "enforce"
    allowed = decision.allowed or not enforced
    decision_id = decision_id or new_decision_id()
    recipient_id = meta.recipient_id or request.recipient.id
    repo_id = meta.repo_id or request.model.repo_id
    payload: dict[str, Any] = {
        "decision_id": decision_id,
        "mode": mode,
        "enforced": enforced,
        "allowed": allowed,
        "would_have_blocked": not decision.allowed and not enforced,
        "request": request_to_dict(request),
        "decision": decision.to_dict(),
        "meta": meta.to_dict(),
        "inquiry_id": None,
    }
    for key, value in (extra or {}).items():
        if key in payload:
            raise InputError(f"extra.{key}", "would replace a field of the decision record")
        payload[key] = value
    columns = dict(
        ref=decision_id,
        recipient_id=recipient_id,
        repo_id=repo_id,
        license_used=decision.license_used,
        verdict=decision.verdict.value,
        allowed=allowed,
    )
    if decision.verdict is not Verdict.HOLD or recipient_id is None:
        return audit.append_now(store, "decision", payload, **columns)  # type: ignore[arg-type]
    with store.write() as conn:
        inquiry_id = inquiries.open_or_reuse(
            conn, store, recipient_id, repo_id, decision.questions, decision_id=decision_id
        )
        payload["inquiry_id"] = inquiry_id
        entry = audit.append(conn, store, "decision", payload, **columns)  # type: ignore[arg-type]
    return AuditEntry(
        entry.seq,
        entry.hash,
        entry.prev_hash,
        entry.recorded_at,
        entry.kind,
        entry.ref,
        entry.payload,
        inquiry_id,
    )


def record_outcome(store: Store, decision_id: str, outcome: str, detail: str) -> AuditEntry:
    """Record what happened after a decision ("completed", "aborted: digest mismatch", ...)."""
    return audit.append_now(
        store,
        "outcome",
        {"decision_id": decision_id, "outcome": outcome, "detail": detail},
    )


def payload_bytes(entry: AuditEntry) -> bytes:
    """The canonical bytes the chain stored for the entry's payload."""
    return canonical_json(dict(entry.payload))
