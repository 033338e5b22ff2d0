"""`gate replay`: re-decide recorded requests under another ruleset and list what would change.

Each decision entry keeps its full request (the public request JSON), so an amended rule can be
tried against real history. Nothing is written: replay only reads the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gate.core.decide import decide
from gate.core.ruleset import Ruleset
from gate.schema import parse_request
from gate.store import audit
from gate.store.db import Store


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    decision_id: str
    recipient: str
    repo_id: str
    file: str | None
    before: dict[str, Any]
    after: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "decision_id": self.decision_id,
            "recipient": self.recipient,
            "repo_id": self.repo_id,
            "file": self.file,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    ruleset_id: str
    ruleset_sha256: str
    decisions: int
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": {"id": self.ruleset_id, "sha256": self.ruleset_sha256},
            "decisions": self.decisions,
            "changed": len(self.changes),
            "changes": [c.to_dict() for c in self.changes],
        }


def _outcome(verdict: str, basis: str, license_used: str | None) -> dict[str, Any]:
    return {"verdict": verdict, "basis": basis, "license_used": license_used}


def iter_replay(
    store: Store, ruleset: Ruleset, *, since: datetime | None = None
) -> Iterator[tuple[int, Change | None]]:
    """(seq, change or None) for every recorded decision, in chain order."""
    for entry in audit.iter_entries(store, since=since, kind="decision"):
        payload = entry.payload
        recorded = payload["decision"]
        request = parse_request(payload["request"])
        new = decide(request, ruleset)
        before = _outcome(recorded["verdict"], recorded["basis"], recorded.get("license_used"))
        after = _outcome(new.verdict.value, new.basis.value, new.license_used)
        if before == after:
            yield entry.seq, None
            continue
        yield (
            entry.seq,
            Change(
                entry.seq,
                str(payload["decision_id"]),
                str(request.recipient.id or request.recipient.name),
                request.model.repo_id,
                request.file,
                before,
                after,
            ),
        )


def replay(store: Store, ruleset: Ruleset, *, since: datetime | None = None) -> ReplayResult:
    """Re-decide every recorded decision since `since` under `ruleset`; list the differences."""
    total = 0
    changes: list[Change] = []
    for _seq, change in iter_replay(store, ruleset, since=since):
        total += 1
        if change is not None:
            changes.append(change)
    return ReplayResult(ruleset.id, ruleset.sha256, total, tuple(changes))
