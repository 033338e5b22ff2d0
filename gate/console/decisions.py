"""Decisions as the console searches and shows them, read from the audit chain.

Rows come from the entries' canonical bodies (the part the chain protects); the lookup columns
beside them only narrow the search, and every row found is checked again against its body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gate.core.canonical import canonical_json
from gate.errors import NotFoundError
from gate.store import audit
from gate.store.db import Store
from gate.store.schema import audit_checkpoints, audit_entries, audit_head


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """A decision search. Empty fields match everything; a recipient or model ending in `*`
    matches by prefix (`acme/*`); dates are inclusive UTC days."""

    recipient: str = ""
    model: str = ""
    verdict: str = ""
    basis: str = ""
    ruleset: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    def matches(self, row: DecisionRow) -> bool:
        return (
            _same(row.recipient_id, self.recipient)
            and _same(row.repo_id, self.model)
            and (not self.verdict or row.verdict == self.verdict)
            and (not self.basis or row.basis == self.basis)
            and (not self.ruleset or self.ruleset in row.rulesets)
            and (self.since is None or row.recorded_at >= self.since)
            and (self.until is None or row.recorded_at < self.until)
        )


def _same(value: str, wanted: str) -> bool:
    if not wanted:
        return True
    if wanted.endswith("*"):
        return value.startswith(wanted[:-1])
    return value == wanted


def _column_match(column: Any, wanted: str) -> Any:
    if wanted.endswith("*"):
        # LIKE with "!" as the escape character: the prefix's own % and _ match themselves.
        prefix = wanted[:-1].replace("!", "!!").replace("%", "!%").replace("_", "!_")
        return column.like(prefix + "%", escape="!")
    return column == wanted


@dataclass(frozen=True, slots=True)
class DecisionRow:
    seq: int
    decision_id: str
    recorded_at: datetime
    recipient_id: str
    repo_id: str
    file: str
    verdict: str
    basis: str
    rulesets: tuple[str, ...]
    allowed: bool
    mode: str
    inquiry_id: str | None
    payload: Mapping[str, Any] = field(repr=False)


def _decision_row(seq: int, body: str) -> DecisionRow:
    payload = json.loads(body)
    decision = payload.get("decision") or {}
    request = payload.get("request") or {}
    meta = payload.get("meta") or {}
    recipient = request.get("recipient") or {}
    model = request.get("model") or {}
    ruleset = decision.get("ruleset") or {}
    rulesets = [str(ruleset.get("id") or "")]
    rulesets += [
        str(r.get("id") or "") for r in decision.get("rulesets") or () if isinstance(r, dict)
    ]
    return DecisionRow(
        seq,
        str(payload.get("decision_id") or ""),
        datetime.fromisoformat(str(payload["recorded_at"])),
        str(meta.get("recipient_id") or recipient.get("id") or ""),
        str(meta.get("repo_id") or model.get("repo_id") or ""),
        str(meta.get("file") or ""),
        str(decision.get("verdict") or ""),
        str(decision.get("basis") or ""),
        tuple(r for r in dict.fromkeys(rulesets) if r),
        bool(payload.get("allowed")),
        str(payload.get("mode") or ""),
        payload.get("inquiry_id"),
        payload,
    )


def _decision_query(f: DecisionFilter) -> Any:
    c = audit_entries.c
    query = select(c.seq, c.body).where(c.kind == "decision")
    # Lookup columns narrow the search; each row is checked again against its body.
    if f.recipient:
        query = query.where(_column_match(c.recipient_id, f.recipient))
    if f.model:
        query = query.where(_column_match(c.repo_id, f.model))
    if f.verdict:
        query = query.where(c.verdict == f.verdict)
    if f.since is not None:
        query = query.where(c.recorded_at >= f.since)
    if f.until is not None:
        query = query.where(c.recorded_at < f.until)
    return query


def iter_decisions(
    store: Store, f: DecisionFilter, *, newest_first: bool = True, before: int | None = None
) -> Iterator[DecisionRow]:
    """Matching decisions, streamed in batches (CSV export reads them all); `before`: only
    entries before that sequence number (the next page, newest first)."""
    c = audit_entries.c
    bound: int | None = before
    while True:
        query = _decision_query(f)
        if bound is not None:
            query = query.where(c.seq < bound if newest_first else c.seq > bound)
        query = query.order_by(c.seq.desc() if newest_first else c.seq).limit(2000)
        with store.read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        for seq, body in rows:
            row = _decision_row(int(seq), body)
            if f.matches(row):
                yield row
        bound = int(rows[-1][0])


def search(
    store: Store, f: DecisionFilter, *, limit: int = 200, before: int | None = None
) -> list[DecisionRow]:
    out: list[DecisionRow] = []
    for row in iter_decisions(store, f, before=before):
        out.append(row)
        if len(out) >= limit:
            break
    return out


@dataclass(frozen=True, slots=True)
class ChainPlace:
    seq: int
    hash: str
    prev_hash: str
    next_seq: int | None
    head_seq: int
    checkpoint: Mapping[str, Any] | None  # the first signed checkpoint covering the entry


def decision(store: Store, decision_id: str) -> tuple[DecisionRow, ChainPlace]:
    entry = audit.get_entry(store, decision_id)
    if entry.kind != "decision":
        raise NotFoundError(f"no decision {decision_id!r}")
    row = _decision_row(entry.seq, canonical_json(dict(entry.payload)).decode())
    with store.read() as conn:
        head = conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar_one()
        cp = conn.execute(
            select(audit_checkpoints)
            .where(audit_checkpoints.c.seq >= entry.seq)
            .order_by(audit_checkpoints.c.seq)
            .limit(1)
        ).first()
    checkpoint = None
    if cp is not None:
        checkpoint = {"seq": int(cp.seq), "signed_at": cp.signed_at, "key_id": cp.key_id}
    next_seq = entry.seq + 1 if entry.seq < int(head) else None
    return row, ChainPlace(entry.seq, entry.hash, entry.prev_hash, next_seq, int(head), checkpoint)
