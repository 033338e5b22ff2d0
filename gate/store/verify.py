"""Verifying the audit chain against a database writer without the key.

`verify_chain` recomputes every hash and link, checks every signed checkpoint against the chain,
requires checkpoints at the configured cadence (a run of entries left uncovered longer than the
policy allows is a missing checkpoint, reported as a break), checks every lookup column and
every license-transfer count row against the entry bodies, and, given checkpoints saved outside
the database, proves the chain still holds everything they covered. See docs/records.md for
exactly what is and is not detected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, select

from gate.store.chain import CHECKPOINT_TYPE, GENESIS, LOOKUP_KEYS, aware, entry_hash
from gate.store.db import Store
from gate.store.schema import audit_checkpoints, audit_head, license_transfers

Keys = Mapping[str, ec.EllipticCurvePublicKey] | None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What `verify_chain` found. `first_broken` names the first entry that does not verify."""

    ok: bool
    entries: int
    checkpoints: int
    checkpoints_signature_checked: bool
    first_broken: int | None = None
    problem: str | None = None
    saved_checkpoints: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "checkpoint_signatures_checked": self.checkpoints_signature_checked,
            "saved_checkpoints_checked": self.saved_checkpoints,
            "first_broken": self.first_broken,
            "problem": self.problem,
        }


class _Broken(Exception):
    def __init__(self, seq: int | None, problem: str) -> None:
        super().__init__(problem)
        self.seq, self.problem = seq, problem


_BATCH = 20_000
_SQL = (
    "SELECT seq, prev_hash, hash, body, recorded_at, kind, ref, recipient_id, repo_id,"
    " license_used, verdict, allowed FROM audit_entries ORDER BY seq"
)


def _rows(conn: Connection, dialect: str) -> Iterator[list[tuple[Any, ...]]]:
    """Stream the entries in seq order in batches, with the driver's own cursor (SQLAlchemy's
    per-row processing would dominate); on PostgreSQL a named cursor keeps memory flat."""
    raw: Any = conn.connection.driver_connection
    if dialect == "postgresql":
        cur = raw.cursor(name="gate_audit_verify")
        cur.itersize = _BATCH
    else:
        cur = raw.cursor()
    try:
        cur.execute(_SQL)
        while batch := cur.fetchmany(_BATCH):
            yield batch
    finally:
        cur.close()


def _signature_ok(payload: str, signature: str, key_id: str, keys: Keys) -> str | None:
    """None when the signature verifies under `keys`, else why not (keys None: not checked)."""
    if keys is None:
        return None
    key = keys.get(key_id)
    if key is None:
        return f"is signed by an unknown key {key_id!r}"
    try:
        key.verify(bytes.fromhex(signature), payload.encode(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return "has a signature that does not verify"
    return None


def _check_checkpoint(row: Any, keys: Keys) -> str | None:
    """Why a checkpoint row is bad, or None; its seq and hash are compared with the chain later."""
    try:
        payload = json.loads(row.payload)
    except ValueError:
        return f"checkpoint at entry {row.seq} has an unreadable payload"
    if (
        payload.get("type") != CHECKPOINT_TYPE
        or payload.get("seq") != row.seq
        or payload.get("entry_hash") != row.entry_hash
        or payload.get("key_id") != row.key_id
    ):
        return f"checkpoint at entry {row.seq} does not match what was signed"
    problem = _signature_ok(row.payload, row.signature, row.key_id, keys)
    return None if problem is None else f"checkpoint at entry {row.seq} {problem}"


def parse_saved_checkpoints(text: str, source: str) -> list[dict[str, Any]]:
    """Checkpoints saved outside the database: `gate audit checkpoint` output or the witness
    file (one JSON object per line). Raises ValueError naming the source."""
    out: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            payload = json.loads(record["payload"])
            signature = str(record["signature"])
            if payload.get("type") != CHECKPOINT_TYPE:
                raise ValueError("not an audit checkpoint")
            out.append(
                {
                    "payload": record["payload"],
                    "signature": signature,
                    "seq": int(payload["seq"]),
                    "entry_hash": str(payload["entry_hash"]),
                    "key_id": str(payload["key_id"]),
                }
            )
        except (ValueError, KeyError, TypeError) as exc:
            problem = f"{source} line {number}: not a saved audit checkpoint ({exc})"
            raise ValueError(problem) from None
    if not out:
        raise ValueError(f"{source}: holds no checkpoint")
    return out


class _Walk:
    """State of one pass over the chain."""

    def __init__(self, store: Store, due: dict[int, str], cp_seqs: set[int]) -> None:
        self.policy = store.checkpoints
        self.span = timedelta(minutes=self.policy.minutes)
        self.due, self.cp_seqs = due, cp_seqs
        self.expected, self.last_hash, self.count = 1, GENESIS, 0
        self.hashes: dict[int, str] = {}
        self.wanted: set[int] = set()
        self.gap_start: int | None = None
        self.gap_time: datetime | None = None
        self.claims: set[tuple[Any, ...]] = set()

    def entry(self, row: tuple[Any, ...]) -> None:
        seq, prev, digest, body_text = row[0], row[1], row[2], row[3]
        if seq != self.expected:
            raise _Broken(self.expected, f"entry {self.expected} is missing (deleted)")
        if entry_hash(body_text.encode("utf-8"), prev, seq) != digest:
            raise _Broken(seq, f"entry {seq} was altered: its contents do not match its hash")
        if prev != self.last_hash:
            raise _Broken(
                seq,
                f"entry {seq} does not link to entry {seq - 1} (inserted, reordered, "
                "or an earlier entry was rewritten)",
            )
        if seq in self.due and self.due.pop(seq) != digest:
            raise _Broken(seq, f"entry {seq} does not match the signed checkpoint at it")
        body = json.loads(body_text)
        if type(body) is not dict:
            raise _Broken(seq, f"entry {seq} does not hold a JSON object")
        moment = self._columns(seq, body, row)
        self._cadence(seq, moment)
        claim = body.get("license_claim")
        if type(claim) is dict:
            self.claims.add(_claim_key(claim, body.get("decision_id")))
        if seq in self.wanted:
            self.hashes[seq] = digest
        self.last_hash, self.expected, self.count = digest, self.expected + 1, self.count + 1

    def _columns(self, seq: int, body: dict[str, Any], row: tuple[Any, ...]) -> datetime:
        """Check the lookup columns against the body; the entry's time (from the body)."""
        if row[5] != body.get("kind"):
            raise _Broken(seq, f"entry {seq}: its kind column does not match its body")
        stamp, column = body.get("recorded_at"), row[4]
        try:
            moment = datetime.fromisoformat(stamp)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _Broken(seq, f"entry {seq} has no readable recorded_at") from None
        # SQLite keeps naive UTC text, PostgreSQL an aware time: compare cheaply when possible.
        same = (
            column.replace(" ", "T") + "+00:00" == stamp
            if type(column) is str
            else column == moment
        )
        if not same and aware(column) != moment:
            raise _Broken(seq, f"entry {seq}: its recorded_at column does not match its body")
        lookup = body.get("lookup")
        if lookup is None:
            return moment  # written before lookup copies were kept in the body
        allowed = row[11] if row[11] is None else bool(row[11])
        if type(lookup) is not dict or (
            lookup.get("ref"),
            lookup.get("recipient_id"),
            lookup.get("repo_id"),
            lookup.get("license_used"),
            lookup.get("verdict"),
            lookup.get("allowed"),
        ) != (row[6], row[7], row[8], row[9], row[10], allowed):
            got = dict(zip(LOOKUP_KEYS, (*row[6:11], allowed), strict=True))
            wrong = next(
                (k for k in LOOKUP_KEYS if type(lookup) is not dict or lookup.get(k) != got[k]),
                "lookup",
            )
            raise _Broken(seq, f"entry {seq}: its {wrong} column does not match its body")
        return moment

    def _cadence(self, seq: int, moment: datetime) -> None:
        if self.gap_start is None:
            self.gap_start, self.gap_time = seq, moment
        covered_from = self.gap_start
        if seq - covered_from >= self.policy.every:
            raise _Broken(
                seq,
                f"entries {covered_from} to {seq} have no signed checkpoint: more than "
                f"{self.policy.every} entries without one (a checkpoint is missing)",
            )
        if seq in self.cp_seqs:
            self.gap_start = self.gap_time = None
        elif self.gap_time is not None and moment - self.gap_time > self.span:
            raise _Broken(
                seq,
                f"entry {seq} was appended more than {self.policy.minutes:g} minutes after entry "
                f"{covered_from} with no checkpoint between (a checkpoint is missing)",
            )

    def tail(self, now: datetime) -> None:
        if self.gap_start is None or self.gap_time is None:
            return
        if now - self.gap_time > self.span:
            last = self.expected - 1
            raise _Broken(
                self.gap_start,
                f"entries {self.gap_start} to {last} have waited more than "
                f"{self.policy.minutes:g} minutes for a checkpoint (the gate stopped without one, "
                "appends were made without the key, or checkpoints were deleted)",
            )


def _claim_key(claim: dict[str, Any], decision_id: Any) -> tuple[Any, ...]:
    return (
        claim.get("license"),
        claim.get("recipient_id"),
        claim.get("repo_id"),
        claim.get("commit"),
        claim.get("file"),
        decision_id,
    )


PROGRESS_EVERY = 1000
"""How many entries `verify_chain` walks between two `progress` calls."""


def verify_chain(
    store: Store,
    public_keys: Keys = None,
    *,
    saved: Iterable[Mapping[str, Any]] = (),
    progress: Callable[[int, int], None] | None = None,
) -> VerifyResult:
    """Recompute the whole chain; name the first entry that was edited, deleted, moved, inserted,
    left without its checkpoint, or whose lookup columns or license counts disagree with it.

    With `public_keys` (key id -> P-256 public key) the checkpoint signatures are verified too.
    `saved`: checkpoints kept outside the database (`parse_saved_checkpoints`); the chain must
    still hold each one's entry with the same hash. Their signatures need `public_keys`.
    `progress(done, total)`: called every PROGRESS_EVERY entries and once at the end of the walk
    (`total` is the head's count; a broken chain stops it early).
    """
    checked = public_keys is not None
    saved = list(saved)
    with store.read() as conn:
        checkpoints = conn.execute(
            select(audit_checkpoints).order_by(audit_checkpoints.c.seq)
        ).all()
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one()
        rows = list(conn.execute(select(license_transfers)).all())
        walk: _Walk | None = None
        try:
            due: dict[int, str] = {}
            for cp in checkpoints:
                problem = _check_checkpoint(cp, public_keys)
                if problem is not None:
                    raise _Broken(int(cp.seq), problem)
                due[int(cp.seq)] = cp.entry_hash
            for item in saved:
                if public_keys is None:
                    raise _Broken(
                        item["seq"], "a saved checkpoint needs the gate's public key to check"
                    )
                problem = _signature_ok(
                    item["payload"], item["signature"], item["key_id"], public_keys
                )
                if problem is not None:
                    where = f"saved checkpoint at entry {item['seq']}"
                    raise _Broken(item["seq"], f"{where} {problem}")
            walk = _Walk(store, due, set(due))
            walk.wanted = {int(item["seq"]) for item in saved}
            total = int(head.seq)
            for batch in _rows(conn, store.dialect):
                for row in batch:
                    walk.entry(row)
                    if progress is not None and walk.count % PROGRESS_EVERY == 0:
                        progress(walk.count, total)
            if progress is not None:
                progress(walk.count, max(total, walk.count))
            _finish(walk, head, saved, rows, store.now())
        except _Broken as broken:
            count = 0 if walk is None else walk.count
            return VerifyResult(
                False, count, len(checkpoints), checked, broken.seq, broken.problem, len(saved)
            )
    return VerifyResult(True, walk.count, len(checkpoints), checked, saved_checkpoints=len(saved))


def _finish(
    walk: _Walk,
    head: Any,
    saved: list[Mapping[str, Any]],
    transfer_rows: list[Any],
    now: datetime,
) -> None:
    last = walk.expected - 1
    if walk.due:
        seq = min(walk.due)
        raise _Broken(seq, f"entry {seq} is missing (deleted) but a checkpoint signed it")
    for item in sorted(saved, key=lambda i: int(i["seq"])):
        seq = int(item["seq"])
        if seq > last:
            raise _Broken(
                last + 1,
                f"entries {last + 1} to {seq} are missing: a saved checkpoint covers entry "
                f"{seq} but the chain ends at {last} (cut off the tail)",
            )
        if walk.hashes.get(seq) != item["entry_hash"]:
            raise _Broken(
                seq,
                f"entry {seq} does not match the saved checkpoint at it (the chain up to it "
                "was rewritten)",
            )
    if int(head.seq) != last or (last and head.hash != walk.last_hash):
        if int(head.seq) > last:
            raise _Broken(last + 1, f"entries {last + 1} to {head.seq} are missing (deleted)")
        raise _Broken(last, f"entry {last} does not match the chain head")
    walk.tail(now)
    table = {
        (r.license_number, r.recipient_id, r.repo_id, r.commit, r.file, r.decision_id)
        for r in transfer_rows
    }
    for extra in sorted(table - walk.claims, key=str):
        raise _Broken(
            None,
            f"a transfer counted against license {extra[0]} (decision {extra[5]}) has no "
            "entry recording it (the count row was inserted or edited)",
        )
    for gone in sorted(walk.claims - table, key=str):
        raise _Broken(
            None,
            f"decision {gone[5]} counted a transfer against license {gone[0]} but the count "
            "row is missing (deleted or edited: the cap would be reset)",
        )
