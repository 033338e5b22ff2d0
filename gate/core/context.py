"""The facts one decision works from: country groups and destinations, derived once.

Kept apart from the procedure in `decide.py` so that each step there reads as RULES.md says it.
"""

from __future__ import annotations

from typing import Any

from gate.core.ruleset import Ruleset
from gate.core.values import GROUP_SEVERITY, Group, License, TransferRequest

ECCN_WIDE = "4E091"

# Enum members bound once: attribute access on an Enum class costs ~0.15 us in CPython
# 3.11, and the decision runs on every download.


class DecisionContext:
    """The facts one decision works from, derived once (groups, destinations) and then reused."""

    __slots__ = (
        "destinations",
        "domestic",
        "groups",
        "hq_group",
        "parent_group",
        "parent_hq",
        "request",
        "ruleset",
    )

    def __init__(self, request: TransferRequest, ruleset: Ruleset) -> None:
        self.request = request
        self.ruleset = ruleset
        recipient = request.recipient
        hq = recipient.headquarters
        self.parent_hq = parent_hq = recipient.parent_headquarters
        self.hq_group = None if hq is None else ruleset.group_of(hq)
        self.parent_group = None if parent_hq is None else ruleset.group_of(parent_hq)
        self.destinations = destinations(request)
        self.groups: tuple[Group | None, ...] = tuple(
            None if d is None else ruleset.group_of(d) for d in self.destinations
        )
        # Domestic: every destination is the United States (territories included).
        self.domestic = None not in self.destinations and all(
            ruleset.is_domestic(d) for d in self.destinations if d is not None
        )

    @property
    def destination_group(self) -> Group | None:
        """The most restrictive group among the destinations; None when one is unknown."""
        known = [group for group in self.groups if group is not None]
        if len(known) != len(self.groups):
            return None
        return max(known, key=GROUP_SEVERITY.__getitem__)

    def facts(self, controlled: bool | None) -> dict[str, Any]:
        """The facts as the rule weighs them: the model's status and the parties' groups.

        The request itself (date, file, recipient, licenses, inquiry) is recorded beside the
        decision in the audit chain; these are what the procedure concluded from it.
        """
        model = self.request.model
        tc = model.training_compute
        return {
            "controlled": controlled,
            "designated": model.designated,
            "published": model.published,
            "training_compute": (tc.low, tc.high),
            "threshold": self.ruleset.threshold_operations,
            "headquarters": self.request.recipient.headquarters,
            "headquarters_group": self.hq_group,
            "ultimate_parent_headquarters": self.parent_hq,
            "ultimate_parent_group": self.parent_group,
            "destinations": self.destinations,
            "destination_groups": self.groups,
        }


def destinations(request: TransferRequest) -> tuple[str | None, ...]:
    """The transfer's destination and every destination the recipient declared in the inquiry,
    whatever its state (RULES.md: what was said is known from the moment it was said)."""
    destination = request.destination
    inquiry = request.inquiry
    if inquiry is None or not inquiry.declared_destinations:
        return (destination,)
    extra = [d for d in inquiry.declared_destinations if d != destination]
    return (destination, *dict.fromkeys(extra))


def covering_license(request: TransferRequest, places: tuple[str | None, ...]) -> License | None:
    """A license on record naming the recipient by its id, the model (or ECCN 4E091), every one
    of `places`, valid on the date; None when none does."""
    recipient_id = request.recipient.id
    if recipient_id is None or None in places:
        return None  # a license names a recipient by id, and no license names an unknown place
    repo = request.model.repo_id.casefold()
    for lic in sorted(request.licenses, key=lambda item: item.number):
        if lic.recipient != recipient_id:
            continue
        models = {m.casefold() for m in lic.models}
        if repo not in models and ECCN_WIDE.casefold() not in models:
            continue
        if not set(places) <= set(lic.destinations):
            continue
        if lic.valid_on(request.date):
            return lic
    return None
