"""A party's screening status from its recorded results: the pure part of what the gatekeeper asks.

Statuses: `"clear"` (screened, nothing open), `"possible_match"` (a hit no officer has reviewed),
`"match"` (an officer confirmed a hit), `None` (never screened, or screened under another name or
country than the party has now: a stale result says nothing about the current party).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gate.screening.normalize import normalize_name

Status = Literal["clear", "possible_match", "match"]
Party = Literal["recipient", "parent"]
_RANK: dict[str, int] = {"clear": 0, "possible_match": 1, "match": 2}


@dataclass(frozen=True, slots=True)
class PartyResult:
    """One current result row as the status function needs it."""

    party: Party
    party_name: str
    party_country: str | None
    status: Status


def party_status(
    results: Iterable[PartyResult], party: Party, name: str | None, country: str | None
) -> Status | None:
    """The worst status of `party`'s current results for this name and country, None if none."""
    if name is None:
        return None
    key = normalize_name(name)
    worst: Status | None = None
    for result in results:
        if result.party != party:
            continue
        if normalize_name(result.party_name) != key or result.party_country != country:
            return None  # screened as someone else: the current party was never screened
        if worst is None or _RANK[result.status] > _RANK[worst]:
            worst = result.status
    return worst


def screening_statuses(
    results: Iterable[PartyResult],
    *,
    name: str,
    headquarters: str | None,
    parent_kind: str,
    parent_name: str | None,
    parent_headquarters: str | None,
) -> tuple[Status | None, Status | None]:
    """(recipient, ultimate parent) statuses. A recipient that is its own ultimate parent gives
    its own status for both; an unknown parent gives None."""
    rows = list(results)
    own = party_status(rows, "recipient", name, headquarters)
    if parent_kind == "self":
        return own, own
    if parent_kind != "party":
        return own, None
    return own, party_status(rows, "parent", parent_name, parent_headquarters)
