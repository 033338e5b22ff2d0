"""The audit chain's state for the console: head, last checkpoint, last verify, verify now.

"Verify now" runs `gate.store.verify.verify_chain` in a background thread (one at a time) and
records its result in the chain itself, with the officer's name, so the last verify result has
one home that survives restarts and is shared by every console.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from gate.errors import GateError, NotFoundError
from gate.store import audit
from gate.store.db import Store
from gate.store.schema import audit_checkpoints, audit_entries, audit_head
from gate.store.verify import VerifyResult

VERIFY_ACTION = "console.audit_verify"


@dataclass(frozen=True, slots=True)
class ChainState:
    head_seq: int
    head_hash: str
    checkpoints: int
    last_checkpoint: Mapping[str, Any] | None
    last_verify: Mapping[str, Any] | None


def state(store: Store) -> ChainState:
    with store.read() as conn:
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one()
        count = conn.execute(select(func.count()).select_from(audit_checkpoints)).scalar_one()
        cp = conn.execute(
            select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
        ).first()
        # The newest recorded verify: admin entries, newest first, bodies checked.
        rows = conn.execute(
            select(audit_entries.c.seq, audit_entries.c.body)
            .where(audit_entries.c.kind == "admin")
            .order_by(audit_entries.c.seq.desc())
            .limit(5000)
        ).all()
    last_verify = None
    for seq, body in rows:
        payload = json.loads(body)
        if payload.get("action") == VERIFY_ACTION:
            last_verify = {"seq": int(seq), **payload}
            break
    last_cp = None
    if cp is not None:
        last_cp = {
            "seq": int(cp.seq),
            "entry_hash": cp.entry_hash,
            "signed_at": cp.signed_at,
            "key_id": cp.key_id,
        }
    return ChainState(int(head.seq), str(head.hash), int(count), last_cp, last_verify)


@dataclass(frozen=True, slots=True)
class Action:
    seq: int
    recorded_at: str
    who: str
    what: str
    subject: str


def recent_actions(store: Store, limit: int = 30) -> list[Action]:
    """The newest actions people took (officers, operators, recipients answering), newest first,
    read from the entries' bodies."""
    with store.read() as conn:
        rows = conn.execute(
            select(audit_entries.c.seq, audit_entries.c.body)
            .where(audit_entries.c.kind.in_(("admin", "inquiry", "screening")))
            .order_by(audit_entries.c.seq.desc())
            .limit(limit)
        ).all()
    out = []
    for seq, body in rows:
        p = json.loads(body)
        who = p.get("actor") or p.get("reviewer") or p.get("by") or "the gate"
        what = p.get("action") or f"inquiry.{p.get('event')}"
        subject = next(
            (
                str(p[k])
                for k in ("inquiry_id", "repo_id", "officer", "number", "recipient_id")
                if p.get(k)
            ),
            "",
        )
        out.append(Action(int(seq), str(p.get("recorded_at", "")), str(who), str(what), subject))
    return out


def latest_checkpoint(store: Store) -> dict[str, Any]:
    """The newest signed checkpoint as a file an auditor keeps outside the database."""
    with store.read() as conn:
        cp = conn.execute(
            select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
        ).first()
    if cp is None:
        raise NotFoundError("no checkpoint has been signed yet")
    return {
        "type": audit.CHECKPOINT_TYPE,
        "seq": int(cp.seq),
        "entry_hash": cp.entry_hash,
        "key_id": cp.key_id,
        "signed_at": cp.signed_at.isoformat(),
        "payload": cp.payload,  # the exact canonical bytes that were signed
        "signature": cp.signature,  # hex of the DER ECDSA P-256 signature over `payload`
    }


@dataclass
class VerifyJob:
    """One verification in the background; its state is read by the audit page."""

    officer: str
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    result: VerifyResult | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


class Verifier:
    """Runs at most one verification at a time and records each result in the chain."""

    def __init__(
        self,
        store: Store,
        public_keys: Callable[[], Mapping[str, ec.EllipticCurvePublicKey] | None],
    ) -> None:
        self.store = store
        self.public_keys = public_keys
        self.job: VerifyJob | None = None
        self._lock = threading.Lock()

    def start(self, officer: str) -> bool:
        """Start a verification; False when one is already running."""
        with self._lock:
            if self.job is not None and self.job.running:
                return False
            job = self.job = VerifyJob(officer)
        threading.Thread(target=self._run, args=(job,), daemon=True).start()
        return True

    def _run(self, job: VerifyJob) -> None:
        try:
            result = audit.verify_chain(self.store, self.public_keys())
            job.result = result
            audit.append_now(
                self.store,
                "admin",
                {"action": VERIFY_ACTION, "actor": job.officer, "result": result.to_dict()},
            )
        except GateError as exc:
            job.error = str(exc)
        finally:
            job.finished = time.monotonic()
