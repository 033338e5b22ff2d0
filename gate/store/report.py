"""`gate report`: decisions summarised by verdict, basis, recipient and model.

Read from the entries' canonical bodies (the part the chain protects), not from the lookup
columns beside them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from gate.store import audit
from gate.store.db import Store


def summarise(store: Store, *, since: datetime | None = None) -> dict[str, Any]:
    """Counts of recorded decisions since `since` (all when None)."""
    verdicts: Counter[str] = Counter()
    bases: Counter[str] = Counter()
    by_recipient: Counter[str] = Counter()
    by_model: Counter[str] = Counter()
    shadow_would_block = 0
    enforced_blocked = 0
    total = 0
    first: str | None = None
    last: str | None = None
    for entry in audit.iter_entries(store, since=since, kind="decision"):
        payload = entry.payload
        decision = payload["decision"]
        request = payload["request"]
        total += 1
        first = first or payload["recorded_at"]
        last = payload["recorded_at"]
        verdicts[decision["verdict"]] += 1
        bases[decision["basis"]] += 1
        by_recipient[str(request["recipient"].get("id") or request["recipient"]["name"])] += 1
        by_model[str(request["model"]["repo_id"])] += 1
        if payload.get("would_have_blocked"):
            shadow_would_block += 1
        if not payload.get("allowed"):
            enforced_blocked += 1
    return {
        "since": since,
        "first": first,
        "last": last,
        "decisions": total,
        "blocked": enforced_blocked,
        "shadow_would_have_blocked": shadow_would_block,
        "by_verdict": dict(verdicts.most_common()),
        "by_basis": dict(bases.most_common()),
        "by_recipient": dict(by_recipient.most_common()),
        "by_model": dict(by_model.most_common()),
    }
