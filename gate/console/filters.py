"""Reading the console's query strings: the filters of the lists, checked before any query."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request

from gate.console import decisions
from gate.console.web import plain
from gate.errors import InputError

VERDICTS = ("allow", "license_required", "hold", "deny")


def text(request: Request, name: str, limit: int = 300) -> str:
    return plain(request.query_params.get(name, "").strip(), name, limit)


def day(request: Request, name: str) -> date | None:
    value = text(request, name, 20)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(name, f"expected a date YYYY-MM-DD, got {value!r}") from None


def start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def decision_filter(request: Request) -> decisions.DecisionFilter:
    verdict = text(request, "verdict", 30)
    if verdict and verdict not in VERDICTS:
        raise InputError("verdict", f"expected one of {', '.join(VERDICTS)}")
    since, until = day(request, "from"), day(request, "to")
    return decisions.DecisionFilter(
        recipient=text(request, "recipient", 100),
        model=text(request, "model"),
        verdict=verdict,
        basis=text(request, "basis", 60),
        ruleset=text(request, "ruleset", 100),
        since=None if since is None else start(since),
        until=None if until is None else start(until + timedelta(days=1)),
    )


INQUIRY_STATES = ("open", "answered", "completed", "rejected")


def inquiry_filter(request: Request) -> tuple[str | None, str | None]:
    status = text(request, "status", 12) or None
    if status is not None and status not in INQUIRY_STATES:
        raise InputError("status", f"expected one of {', '.join(INQUIRY_STATES)}")
    return status, text(request, "recipient", 100) or None
