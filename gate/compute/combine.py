"""One rule turns several estimates into the interval the decision reads.

1. An authoritative figure wins: a recorded classification, then a declaration signed by a trusted
   key. Estimates that disagree with it by more than the ruleset's `disagreement_factor` are
   flagged. A declared total below `implausibly_low_factor` x the counting estimate (6 x N x D)
   is flagged as implausible and, because a figure that contradicts the parameter and token counts
   cannot by itself clear a model, the interval's high end is raised to the counting estimate's.
2. Otherwise the best-ranked estimate gives the central value and interval: counting (parameters
   and tokens are the most direct measure), then hardware, then a reported figure (model card,
   unsigned declaration). A lower-ranked estimate that disagrees by more than the factor is
   flagged and the interval becomes the union of both: a disputed figure never narrows the
   interval towards an allow. An estimate built on unsigned claims (a card's figure, tokens or
   hardware; a declaration from an untrusted key) that wins may raise the low end but not set
   the high end: only the upper bound can then, or an unsigned claim could clear a model whose
   size says it may be controlled.
3. The upper bound (6 x active parameters x largest plausible tokens) caps the high end of this
   model's own training; alone it gives an interval with a known high end and an unknown low
   end. It does not cap an authoritative figure (which may include the lineage).
4. Lineage, after the bound: every named base's operations are added, end by end (its low end
   raises the low end even when this model's own is unknown). A base whose operations are
   unknown leaves the high end unknown: the bound of this model's own size says nothing about
   a base it was pruned or distilled from. Only a recorded classification (all bases) or a
   trusted declaration (the base it names with its operations) already includes a base; an
   unsigned figure never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gate.compute.estimate import AUTHORITATIVE, BOUND, ESTIMATES, Estimate
from gate.compute.numbers import format_ops
from gate.core.values import ComputeInterval


@dataclass(frozen=True, slots=True)
class Combined:
    interval: ComputeInterval
    estimates: tuple[Estimate, ...]
    warnings: tuple[str, ...]


def position(interval: ComputeInterval, threshold: float) -> str:
    """`below` when high < threshold, `at_or_above` when low >= threshold, else `undetermined`."""
    if interval.wholly_below(threshold):
        return "below"
    if interval.wholly_at_or_above(threshold):
        return "at_or_above"
    return "undetermined"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return max(a / b, b / a)


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else max(a, b)


def _named(bases: Sequence[tuple[str, Estimate | None]]) -> list[tuple[str, Estimate | None]]:
    """Every named base once (names compare case-insensitively), with its estimate if known."""
    found: dict[str, tuple[str, Estimate | None]] = {}
    for name, estimate in bases:
        key = name.casefold()
        known = found.get(key)
        if known is None or (known[1] is None and estimate is not None):
            found[key] = (name, estimate)
    return list(found.values())


def _covered(winner: Estimate | None) -> tuple[bool, str | None]:
    """(covers every base, the one base it covers): a recorded classification is the operator's
    figure for the whole model; a trusted declaration covers the base it names with its
    operations. Unsigned figures cover nothing: they cannot take a base's operations away."""
    if winner is None:
        return False, None
    if winner.method == "recorded":
        return True, None
    if winner.method == "declaration" and winner.inputs.get("includes_base"):
        repo = winner.inputs.get("base_repo")
        return False, repo.casefold() if isinstance(repo, str) else None
    return False, None


def combine(
    estimates: Sequence[Estimate],
    *,
    disagreement_factor: float,
    implausibly_low_factor: float,
    bases: Sequence[tuple[str, Estimate | None]] = (),
) -> Combined:
    """Combine per the module rule. `bases` names every base model with its estimate, None when
    its operations are unknown."""
    ranked = sorted(
        (e for e in estimates if e.method != BOUND),
        key=lambda e: (AUTHORITATIVE + ESTIMATES).index(e.method),
    )
    bounds = [e for e in estimates if e.method == BOUND]
    warnings: list[str] = []
    used: list[Estimate] = []
    low: float | None = None
    central: float | None = None
    high: float | None = None
    method = "unknown"
    winner = ranked[0] if ranked else None
    if winner is not None:
        low, central, high, method = winner.low, winner.central, winner.high, winner.method
        used.append(winner)
        if winner.unsigned:
            high = None
        for other in ranked[1:]:
            used.append(other)
            ratio = _ratio(winner.central, other.central)
            if (
                winner.method == "declaration"
                and other.method == "counting"
                and winner.central is not None
                and other.central is not None
                and winner.central < implausibly_low_factor * other.central
            ):
                warnings.append(
                    f"declared total {format_ops(winner.central)} is implausibly low: below "
                    f"{implausibly_low_factor:g} x the counting estimate "
                    f"{format_ops(other.central)}"
                    "; the interval's high end is raised to the counting estimate's"
                )
                high = _max(high, other.high)
                method = f"{winner.method} (contested)"
            elif ratio is not None and ratio > disagreement_factor:
                warnings.append(
                    f"{other.method} estimate {format_ops(other.central)} disagrees with "
                    f"{winner.method} {format_ops(winner.central)} by {ratio:.1f}x "
                    f"(more than {disagreement_factor:g}x)"
                )
                if winner.method not in AUTHORITATIVE:
                    low = _min(low, other.low) if low is not None else None
                    high = _max(high, other.high)
    # The bound is 6 x this model's own active parameters x the most tokens any run used: it
    # bounds this model's own training, not its base's (a small model pruned or distilled from
    # a large one carries the large one's operations), and not an authoritative figure.
    authoritative = winner is not None and winner.method in AUTHORITATIVE
    for bound in bounds:
        used.append(bound)
        if authoritative:
            continue
        if low is not None and bound.high is not None and low > bound.high:
            warnings.append(
                f"estimate low end {format_ops(low)} exceeds the upper bound "
                f"{format_ops(bound.high)}: the bound is not applied"
            )
            continue
        capped = _min(high, bound.high)
        if capped != high:
            high = capped
            method = BOUND if winner is None else f"{method}, capped by {BOUND}"
        if central is not None and high is not None and central > high:
            central = high
    covers_all, covered = _covered(winner)
    if not covers_all:
        for name, estimate in _named(bases):
            if covered is not None and name.casefold() == covered:
                continue
            if estimate is None:
                warnings.append(
                    f"trained from {name}, whose training operations are unknown to the gate: "
                    "the high end is unknown"
                )
                central, high = None, None
                method = f"{method}+lineage (base unknown)"
                continue
            used.append(estimate)
            low = (low or 0.0) + estimate.low if estimate.low is not None else low
            central = _add(central, estimate.central)
            high = _add(high, estimate.high)
            method = f"{method}+lineage"
    interval = ComputeInterval(
        low=low,
        high=high,
        central=central,
        method=method,
        evidence=tuple(e.describe() for e in used),
    )
    return Combined(interval, tuple(used), tuple(warnings))
