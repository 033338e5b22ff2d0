"""`gate replay`: re-decide recorded requests under a ruleset set and list what would change.

Each decision entry keeps its full request (the public request JSON), so an amended rule can be
tried against real history. Decisions recorded by another version of the decision procedure are
reported apart (a changed rule is told from changed code). Nothing is written: replay only
reads the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gate.core.procedure import PROCEDURE_VERSION
from gate.core.ruleset_set import AnyRuleset, RulesetSet, decide_all
from gate.schema import parse_request
from gate.store import audit
from gate.store.db import Store
from gate.store.verify import PROGRESS_EVERY


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    decision_id: str
    recipient: str
    repo_id: str
    file: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    recorded_procedure_version: str | None = None

    @property
    def procedure_changed(self) -> bool:
        """The recorded decision came from another version of the decision procedure."""
        return self.recorded_procedure_version != PROCEDURE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "decision_id": self.decision_id,
            "recipient": self.recipient,
            "repo_id": self.repo_id,
            "file": self.file,
            "before": self.before,
            "after": self.after,
            "recorded_procedure_version": self.recorded_procedure_version,
            "procedure_changed": self.procedure_changed,
        }


@dataclass(frozen=True, slots=True)
class ProcedureChange:
    """A recorded decision taken by another version of the decision procedure."""

    seq: int
    decision_id: str
    recorded: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "decision_id": self.decision_id, "recorded": self.recorded}


@dataclass(frozen=True, slots=True)
class ReplayResult:
    rulesets: tuple[tuple[str, str], ...]
    decisions: int
    changes: tuple[Change, ...] = field(default_factory=tuple)
    other_procedure: tuple[ProcedureChange, ...] = field(default_factory=tuple)

    @property
    def ruleset_id(self) -> str:
        """The set's ids, joined with "+" for a one-line summary."""
        return "+".join(rid for rid, _ in self.rulesets)

    @property
    def ruleset_sha256(self) -> str:
        return self.rulesets[0][1]

    def to_dict(self) -> dict[str, Any]:
        first_id, first_sha = self.rulesets[0]
        return {
            "ruleset": {"id": first_id, "sha256": first_sha},
            "rulesets": [{"id": rid, "sha256": sha} for rid, sha in self.rulesets],
            "procedure_version": PROCEDURE_VERSION,
            "decisions": self.decisions,
            "changed": len(self.changes),
            "changes": [c.to_dict() for c in self.changes],
            "other_procedure_version": len(self.other_procedure),
            "other_procedure": [p.to_dict() for p in self.other_procedure],
        }


def _outcome(verdict: str, basis: str, license_used: str | None) -> dict[str, Any]:
    return {"verdict": verdict, "basis": basis, "license_used": license_used}


RulesetsArg = RulesetSet | AnyRuleset


def _as_set(rulesets: RulesetsArg) -> RulesetSet:
    return rulesets if isinstance(rulesets, RulesetSet) else RulesetSet((rulesets,))


def iter_replay(
    store: Store, rulesets: RulesetsArg, *, since: datetime | None = None
) -> Iterator[tuple[int, str, str | None, Change | None]]:
    """(seq, decision id, recorded procedure version, change or None) per recorded decision."""
    rule_set = _as_set(rulesets)
    for entry in audit.iter_entries(store, since=since, kind="decision"):
        payload = entry.payload
        recorded = payload["decision"]
        version = recorded.get("procedure_version") or None
        request = parse_request(payload["request"])
        new = decide_all(request, rule_set)
        before = _outcome(recorded["verdict"], recorded["basis"], recorded.get("license_used"))
        after = _outcome(new.verdict.value, new.basis.value, new.license_used)
        decision_id = str(payload["decision_id"])
        if before == after:
            yield entry.seq, decision_id, version, None
            continue
        yield (
            entry.seq,
            decision_id,
            version,
            Change(
                entry.seq,
                decision_id,
                str(request.recipient.id or request.recipient.name),
                request.model.repo_id,
                request.file,
                before,
                after,
                version,
            ),
        )


def replay(
    store: Store,
    rulesets: RulesetsArg,
    *,
    since: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Re-decide every recorded decision since `since` under the set; list the differences,
    and the decisions recorded by another version of the decision procedure.

    `progress(done, expected)`: called every PROGRESS_EVERY decisions and once at the end."""
    rule_set = _as_set(rulesets)
    expected = 0 if progress is None else audit.count_entries(store, since=since, kind="decision")
    total = 0
    changes: list[Change] = []
    other: list[ProcedureChange] = []
    for seq, decision_id, version, change in iter_replay(store, rule_set, since=since):
        total += 1
        if change is not None:
            changes.append(change)
        if version != PROCEDURE_VERSION:
            other.append(ProcedureChange(seq, decision_id, version))
        if progress is not None and total % PROGRESS_EVERY == 0:
            progress(total, max(expected, total))
    if progress is not None:
        progress(total, max(expected, total))
    return ReplayResult(
        tuple((r.id, r.sha256) for r in rule_set), total, tuple(changes), tuple(other)
    )
