"""Recording decisions: the one call the proxy makes per transfer, before any byte leaves.

`record_decision` appends the decision with its full inputs to the audit chain (and, for a hold,
opens or reuses the inquiry in the same transaction). If it raises, the caller must not transfer:
no record, no transfer. In shadow mode the record says the decision was not enforced and whether
it would have blocked.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Connection

from gate.core.canonical import canonical_json
from gate.core.values import Basis, Decision, Reason, TransferRequest, Verdict
from gate.errors import InputError
from gate.schema import request_to_dict
from gate.store import audit, inquiries, licenses
from gate.store.audit import AuditEntry
from gate.store.db import Store
from gate.store.licenses import TransferKey
from gate.store.repos import repo_key

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


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request and its decision as an entry records them, with their canonical JSON: made
    once and reused by every entry that records the same decision of the same request."""

    decision: Decision
    request_dict: Mapping[str, Any]
    decision_dict: Mapping[str, Any]
    encoded: Mapping[str, bytes]

    @classmethod
    def of(cls, request: TransferRequest, decision: Decision) -> Prepared:
        request_dict, decision_dict = request_to_dict(request), decision.to_dict()
        encoded = {
            "request": canonical_json(request_dict),
            "decision": canonical_json(decision_dict),
        }
        return cls(decision, request_dict, decision_dict, encoded)


def new_decision_id() -> str:
    """`dec_` + 13 hex digits of microseconds since the epoch + 12 random hex digits.

    Time-ordered (like UUIDv7) so the lookup index on decision ids grows at its right edge
    instead of taking a random page write per append; the random part keeps ids unguessable.
    """
    return f"dec_{time.time_ns() // 1000:013x}{_random_hex(12)}"


_random = bytearray()
_random_lock = threading.Lock()
# A forked child must not hand out the parent's remaining bytes (ids would repeat).
os.register_at_fork(after_in_child=_random.clear)


def _random_hex(digits: int) -> str:
    """Hex digits from the operating system's CSPRNG, drawn 4 KiB at a time: a system call per
    decision id cost as much as deciding (the bytes stay as unpredictable as `secrets`')."""
    need = (digits + 1) // 2
    with _random_lock:
        if len(_random) < need:
            _random.extend(os.urandom(4096))
        chunk = bytes(_random[:need])
        del _random[:need]
    return chunk.hex()[:digits]


Extra = Mapping[str, Any] | Callable[[Decision], Mapping[str, Any] | None] | None


def record_decision(
    store: Store,
    request: TransferRequest,
    decision: Decision,
    meta: RequestMeta,
    mode: Mode = "enforce",
    *,
    decision_id: str | None = None,
    extra: Extra = None,
    counted: bool = False,
    redecide: Callable[[TransferRequest], Decision] | None = None,
) -> AuditEntry:
    """`record_transfer`, returning the entry only (`entry.payload["decision"]` is the decision
    that stands)."""
    return record_transfer(
        store,
        request,
        decision,
        meta,
        mode,
        decision_id=decision_id,
        extra=extra,
        counted=counted,
        redecide=redecide,
    )[1]


def record_transfer(
    store: Store,
    request: TransferRequest,
    decision: Decision,
    meta: RequestMeta,
    mode: Mode = "enforce",
    *,
    decision_id: str | None = None,
    extra: Extra = None,
    counted: bool = False,
    redecide: Callable[[TransferRequest], Decision] | None = None,
) -> tuple[Decision, AuditEntry]:
    """Append the decision to the audit chain; StoreError if it cannot be recorded (then the
    caller must not transfer). Returns the decision that stands and its entry.

    `extra` adds fields to the entry (the signed receipt, a note), under their own names; it
    cannot replace the decision's own fields. Give a function of the standing decision when
    what it adds depends on it (a receipt is only for an allowed transfer).

    A decision that uses a capped license is settled against the cap in the same transaction
    as its entry (`licenses.claim_in`). `counted`: this request sends bytes of a parameter file
    beyond its header (the caller knows: a GET that is not a header-window read); it takes one
    transfer of the cap unless the file was counted before. When the cap is exhausted the
    license is taken away and the request decided again with `redecide` (without it:
    `license_required`), with a first reason naming the license.
    `entry.payload["allowed"]` says whether bytes may flow (always in shadow mode);
    `entry.inquiry_id` names the inquiry a hold opened or reused.
    """
    if mode not in ("enforce", "shadow"):
        raise InputError("mode", f"expected enforce or shadow, got {mode!r}")
    known_id = decision_id or new_decision_id()
    licensed = decision.license_used is not None
    # A decision without a license shares a transaction with other requests' entries, which
    # must not fail for this one: its request and decision are encoded here first (a model's
    # facts holding text no encoder takes fail this request alone) and spliced into the entry.
    prepared = None if licensed else Prepared.of(request, decision)

    def work(conn: Connection, grow: bool) -> tuple[Decision, AuditEntry] | None:
        return record_in(
            conn,
            store,
            request,
            decision,
            meta,
            mode,
            decision_id=known_id,
            extra=extra,
            counted=counted,
            redecide=redecide,
            prepared=prepared,
            grow_inquiry=grow,
        )

    if not licensed:
        # Through the store's writer: concurrent decisions share one transaction (group
        # commit), unless a hold has questions to add to its inquiry (None: below).
        shared: tuple[Decision, AuditEntry] | None = store.committer.submit(
            lambda conn: work(conn, False)
        )
        if shared is not None:
            return shared
    # A transaction of its own, which locks the license or inquiry row before the audit head,
    # in the order every other writer of those rows takes them (an officer's change, an
    # answer). In a group commit the head is already locked by an earlier append, and a
    # replica holding the row while it waits for the head deadlocks with it on PostgreSQL.
    with store.write() as conn:
        done = work(conn, True)
    assert done is not None  # grow_inquiry=True: always recorded
    return done


def record_in(
    conn: Connection,
    store: Store,
    request: TransferRequest,
    decision: Decision,
    meta: RequestMeta,
    mode: Mode,
    *,
    decision_id: str,
    extra: Extra = None,
    counted: bool = False,
    redecide: Callable[[TransferRequest], Decision] | None = None,
    prepared: Prepared | None = None,
    grow_inquiry: bool = True,
) -> tuple[Decision, AuditEntry] | None:
    """`record_transfer` inside the caller's write transaction: the license settled against its
    cap, the inquiry a hold opens or reuses, and the entry, all committed together or not at all.
    `prepared`: the request and decision already encoded (used while the decision stands).
    `grow_inquiry=False` (a transaction whose audit head may be locked already): None, nothing
    written, when a hold would add questions to its inquiry (`inquiries.open_or_reuse`).
    """
    recipient_id = meta.recipient_id or request.recipient.id
    repo_id = meta.repo_id or request.model.repo_id
    key = _transfer_key(recipient_id, repo_id, meta, request)
    request, decision, claim = _settle_license(
        conn, store, request, decision, key, counted, decision_id, redecide
    )
    if prepared is not None and prepared.decision is not decision:
        prepared = None  # a cap took the license: the standing decision is another one
    payload, columns = _payload(request, decision, meta, mode, decision_id, extra, prepared)
    if claim is not None:
        payload["license_claim"] = claim
    inquiry_id = None
    if decision.verdict is Verdict.HOLD and recipient_id is not None:
        inquiry_id = inquiries.open_or_reuse(
            conn,
            store,
            recipient_id,
            repo_id,
            decision.questions,
            decision_id=decision_id,
            grow=grow_inquiry,
        )
        if inquiry_id is None:
            return None
        payload["inquiry_id"] = inquiry_id
    encoded = None if prepared is None else prepared.encoded
    entry = audit.append(conn, store, "decision", payload, encoded=encoded, **columns)
    return decision, replace(entry, inquiry_id=inquiry_id)


def _transfer_key(
    recipient_id: str | None, repo_id: str, meta: RequestMeta, request: TransferRequest
) -> TransferKey | None:
    commit = meta.commit or request.model.commit
    file = meta.file or request.file
    if not recipient_id or not commit or not file:
        return None
    return TransferKey(recipient_id, repo_key(repo_id), commit, file)


def _settle_license(
    conn: Connection,
    store: Store,
    request: TransferRequest,
    decision: Decision,
    key: TransferKey | None,
    counted: bool,
    decision_id: str,
    redecide: Callable[[TransferRequest], Decision] | None,
) -> tuple[TransferRequest, Decision, dict[str, str] | None]:
    """The request and decision that stand once every capped license the decision uses is
    checked against its cap (an exhausted license is taken out of the request, so the record
    replays), and the claim recorded for it (None when nothing was counted)."""
    exhausted: list[Reason] = []
    while decision.license_used is not None:
        number = decision.license_used
        outcome, cap = licenses.claim_in(
            conn, store, number, key, counted=counted, decision_id=decision_id
        )
        if outcome != "exhausted":
            claim = key.to_dict(number) if outcome == "claimed" and key is not None else None
            return request, _with_reasons(decision, exhausted), claim
        exhausted.append(
            Reason(
                "license_cap_exhausted",
                f"License {number} is exhausted: it authorises {cap} transfer(s) and all have "
                "been used",
                "15 CFR 750.7",
            )
        )
        left = tuple(x for x in request.licenses if x.number != number)
        request = replace(request, licenses=left)
        decision = redecide(request) if redecide is not None else _license_required(decision)
    return request, _with_reasons(decision, exhausted), None


def _license_required(decision: Decision) -> Decision:
    return replace(
        decision,
        verdict=Verdict.LICENSE_REQUIRED,
        basis=Basis.LICENSE_REQUIRED,
        reasons=(),
        license_used=None,
        questions=(),
    )


def _with_reasons(decision: Decision, extra: list[Reason]) -> Decision:
    # The exhausted license comes first: the refusal's message starts with it.
    return decision if not extra else replace(decision, reasons=(*extra, *decision.reasons))


def _payload(
    request: TransferRequest,
    decision: Decision,
    meta: RequestMeta,
    mode: Mode,
    decision_id: str,
    extra: Extra,
    prepared: Prepared | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The entry's payload and its lookup columns."""
    added = extra(decision) if callable(extra) else extra
    enforced = mode == "enforce"
    allowed = decision.allowed or not enforced
    payload: dict[str, Any] = {
        "decision_id": decision_id,
        "mode": mode,
        "enforced": enforced,
        "allowed": allowed,
        "would_have_blocked": not decision.allowed and not enforced,
        "request": request_to_dict(request) if prepared is None else prepared.request_dict,
        "decision": decision.to_dict() if prepared is None else prepared.decision_dict,
        "meta": meta.to_dict(),
        "inquiry_id": None,
    }
    for key, value in (added or {}).items():
        if key in payload or key == "license_claim":
            raise InputError(f"extra.{key}", "would replace a field of the decision record")
        payload[key] = value
    columns = {
        "ref": decision_id,
        "recipient_id": meta.recipient_id or request.recipient.id,
        "repo_id": meta.repo_id or request.model.repo_id,
        "license_used": decision.license_used,
        "verdict": decision.verdict.value,
        "allowed": allowed,
    }
    return payload, columns


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
