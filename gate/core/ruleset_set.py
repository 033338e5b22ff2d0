"""Several rulesets at once (RULES.md "Beyond 4E091"): the most restrictive answer wins.

`decide_all(request, rulesets)` decides under each ruleset of the set and combines: `deny`, then
`hold`, then `license_required`, then `allow`; between equal verdicts the ruleset listed first
names the basis. The decision keeps every ruleset's own verdict and reasons, and lists the
reasons of every ruleset that did not allow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from gate.core.decide import decide
from gate.core.embargoes import EmbargoRuleset, decide_embargoes
from gate.core.files import FileCheck
from gate.core.procedure import PROCEDURE_VERSION
from gate.core.ruleset import Ruleset
from gate.core.values import VERDICT_SEVERITY, Decision, TransferRequest, Verdict

AnyRuleset = Ruleset | EmbargoRuleset


@dataclass(frozen=True)
class RulesetSet:
    """An ordered, non-empty set of rulesets with distinct ids, evaluated together."""

    rulesets: tuple[AnyRuleset, ...]

    def __post_init__(self) -> None:
        if not self.rulesets:
            raise ValueError("a ruleset set needs at least one ruleset")
        ids = [r.id for r in self.rulesets]
        if len(set(ids)) != len(ids):
            raise ValueError(f"ruleset ids repeat in the set: {', '.join(ids)}")

    def __iter__(self) -> Iterator[AnyRuleset]:
        return iter(self.rulesets)

    def __len__(self) -> int:
        return len(self.rulesets)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rulesets)

    @property
    def export_ruleset(self) -> Ruleset | None:
        """The first 4E091 ruleset (threshold, compute rules, open licenses), if any."""
        return next((r for r in self.rulesets if isinstance(r, Ruleset)), None)

    def check_file(
        self, path: str, head: bytes | None = None, size: int | None = None
    ) -> FileCheck:
        """Parameters when any ruleset of the set says so (the most restrictive reading)."""
        checks = [r.check_file(path, head, size) for r in self.rulesets]
        return next((c for c in checks if c.parameters), checks[0])

    def is_parameters(self, path: str, head: bytes | None = None, size: int | None = None) -> bool:
        return any(r.is_parameters(path, head, size) for r in self.rulesets)


def decide_one(request: TransferRequest, ruleset: AnyRuleset) -> Decision:
    """One ruleset's decision, by the procedure its kind follows."""
    if isinstance(ruleset, EmbargoRuleset):
        return decide_embargoes(request, ruleset)
    return decide(request, ruleset)


_ALLOW = Verdict.ALLOW
_HOLD = Verdict.HOLD
_SEVERITY = VERDICT_SEVERITY


def combine(decisions: Sequence[Decision]) -> Decision:
    """The most restrictive of `decisions` (in set order), keeping each one's own verdict."""
    if len(decisions) == 1:
        return decisions[0]  # its own verdict is the decision (to_dict lists it)
    winner = decisions[0]
    for decision in decisions[1:]:
        if _SEVERITY[decision.verdict] > _SEVERITY[winner.verdict]:
            winner = decision
    verdict = winner.verdict
    questions: tuple[str, ...] = ()
    license_used = winner.license_used
    if verdict is _ALLOW:
        reasons = winner.reasons
        if license_used is None:
            license_used = next((d.license_used for d in decisions if d.license_used), None)
    else:
        reasons = winner.reasons + tuple(
            r for d in decisions if d is not winner and d.verdict is not _ALLOW for r in d.reasons
        )
        if verdict is _HOLD:
            held = [q for d in decisions if d.verdict is _HOLD for q in d.questions]
            questions = tuple(dict.fromkeys(held))
    facts: dict[str, Any] = {}
    for decision in reversed(decisions):  # the first ruleset's value wins a shared key
        facts.update(decision.facts)
    return Decision(
        verdict=verdict,
        basis=winner.basis,
        reasons=reasons,
        ruleset_id=winner.ruleset_id,
        ruleset_sha256=winner.ruleset_sha256,
        facts=facts,
        license_used=license_used,
        questions=questions,
        procedure_version=PROCEDURE_VERSION,
        parts=tuple(decisions),
    )


def decide_all(
    request: TransferRequest, rulesets: RulesetSet | Sequence[AnyRuleset] | AnyRuleset
) -> Decision:
    """Decide one transfer under every ruleset of the set; the most restrictive answer wins."""
    if isinstance(rulesets, Ruleset | EmbargoRuleset):
        rulesets = (rulesets,)
    decisions = [decide_one(request, ruleset) for ruleset in rulesets]
    if not decisions:
        raise ValueError("no ruleset to decide under")  # never an allow by default
    return combine(decisions)
