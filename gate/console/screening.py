"""The console's seam to restricted-party screening (`gate.store.screening`, built beside this).

The screening store is looked up when it is called, so the console works (and says screening is
not installed) on a gate without it. The calls used: `list_results(store, status=...)`,
`get_result(store, id)`, `review(store, id, decision="clear"|"confirm", reason=, officer=)` and
`statuses(store, recipient_id) -> (recipient, parent)`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gate.errors import InputError, NotFoundError
from gate.store.db import Store


@dataclass(frozen=True, slots=True)
class Hit:
    """A possible match awaiting an officer, as the queue and the review page show it."""

    id: int
    recipient_id: str
    party: str
    party_name: str
    party_country: str | None
    matched_name: str | None
    score: float | None
    status: str
    screened_at: datetime | None
    reviewed_by: str | None = None
    review_reason: str | None = None
    entry: dict[str, Any] | None = None


def _module() -> Any | None:
    try:
        return importlib.import_module("gate.store.screening")
    except ImportError:
        return None


def installed() -> bool:
    module = _module()
    return module is not None and hasattr(module, "list_results")


def _hit(result: Any, entry: Any = None) -> Hit:
    shown = None
    if entry is not None:
        shown = entry.to_dict() if hasattr(entry, "to_dict") else {"entry": str(entry)}
    return Hit(
        int(result.id),
        str(result.recipient_id),
        str(result.party),
        str(result.party_name),
        result.party_country,
        result.matched_name,
        result.score,
        str(result.status),
        result.screened_at,
        result.reviewed_by,
        result.review_reason,
        shown,
    )


def pending(store: Store) -> tuple[tuple[Hit, ...], bool]:
    """Possible matches awaiting review, oldest first; and whether screening is installed."""
    module = _module()
    if module is None or not hasattr(module, "list_results"):
        return (), False
    found = module.list_results(store, status="possible_match")
    hits = sorted((_hit(r) for r in found), key=lambda h: (h.screened_at or datetime.min, h.id))
    return tuple(hits), True


def get(store: Store, result_id: int) -> Hit:
    module = _module()
    if module is None or not hasattr(module, "get_result"):
        raise NotFoundError("restricted-party screening is not installed in this gate")
    result, entry = module.get_result(store, result_id)
    return _hit(result, entry)


def review(store: Store, result_id: int, *, decision: str, reason: str, officer: str) -> Hit:
    """The officer clears the hit (not the listed party) or confirms it (a match: deny)."""
    module = _module()
    if module is None or not hasattr(module, "review"):
        raise NotFoundError("restricted-party screening is not installed in this gate")
    if decision not in ("clear", "confirm"):
        raise InputError("decision", "expected clear or confirm")
    return _hit(module.review(store, result_id, decision=decision, reason=reason, officer=officer))


def statuses(store: Store, recipient_id: str) -> tuple[str | None, str | None] | None:
    """(recipient, ultimate parent) screening status; None when screening is not installed."""
    module = _module()
    if module is None or not hasattr(module, "statuses"):
        return None
    recipient, parent = module.statuses(store, recipient_id)
    return recipient, parent
