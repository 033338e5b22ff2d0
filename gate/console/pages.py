"""The console's read pages (and their CSV exports): every one works without JavaScript."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gate.console import chain, charts, decisions, records, screening
from gate.console.csvout import csv_response
from gate.console.web import console_of, page, path_id, plain, render
from gate.errors import InputError
from gate.store.officers import Session

VERDICTS = ("allow", "license_required", "hold", "deny")


def _text(request: Request, name: str, limit: int = 300) -> str:
    return plain(request.query_params.get(name, "").strip(), name, limit)


def _day(request: Request, name: str) -> date | None:
    value = _text(request, name, 20)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(name, f"expected a date YYYY-MM-DD, got {value!r}") from None


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def decision_filter(request: Request) -> decisions.DecisionFilter:
    verdict = _text(request, "verdict", 30)
    if verdict and verdict not in VERDICTS:
        raise InputError("verdict", f"expected one of {', '.join(VERDICTS)}")
    since, until = _day(request, "from"), _day(request, "to")
    return decisions.DecisionFilter(
        recipient=_text(request, "recipient", 100),
        model=_text(request, "model"),
        verdict=verdict,
        basis=_text(request, "basis", 60),
        ruleset=_text(request, "ruleset", 100),
        since=None if since is None else _start(since),
        until=None if until is None else _start(until + timedelta(days=1)),
    )


def _query_string(request: Request, **changes: str | None) -> str:
    """The page's query with some parameters changed (None: left out)."""
    params = {k: v for k, v in request.query_params.items() if k not in changes}
    params.update({k: v for k, v in changes.items() if v is not None})
    return urlencode(params)


PAGE = 200


async def queue(request: Request, session: Session) -> Response:
    store = console_of(request).store
    found = await run_in_threadpool(records.queue, store)
    return render(request, "queue.html", {"queue": found}, session=session)


def _queue_rows(found: records.Queue) -> Iterator[Sequence[Any]]:
    for item in found.to_review:
        yield _queue_row("to review", item)
    for items in found.awaiting_answers.values():
        for item in items:
            yield _queue_row("awaiting answers", item)


def _queue_row(section: str, item: records.QueueItem) -> Sequence[Any]:
    r = item.inquiry
    return (
        section,
        r.id,
        r.recipient_id,
        r.repo_id,
        item.basis,
        r.status,
        " ".join(r.questions),
        item.waiting_since.isoformat(),
    )


async def queue_csv(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.queue, console_of(request).store)
    header = ("section", "inquiry", "recipient", "model", "basis", "status", "questions", "since")
    return csv_response("queue", header, list(_queue_rows(found)))


INQUIRY_STATES = ("open", "answered", "completed", "rejected")


def _inquiry_filter(request: Request) -> tuple[str | None, str | None]:
    status = _text(request, "status", 12) or None
    if status is not None and status not in INQUIRY_STATES:
        raise InputError("status", f"expected one of {', '.join(INQUIRY_STATES)}")
    return status, _text(request, "recipient", 100) or None


async def inquiry_list(request: Request, session: Session) -> Response:
    status, recipient = _inquiry_filter(request)
    found = await run_in_threadpool(
        lambda: records.inquiry_list(console_of(request).store, status, recipient)
    )
    return render(
        request,
        "inquiries.html",
        {
            "inquiries": found,
            "states": INQUIRY_STATES,
            "form": dict(request.query_params),
            "query": _query_string(request),
        },
        session=session,
    )


async def inquiries_csv(request: Request, session: Session) -> Response:
    status, recipient = _inquiry_filter(request)
    found = await run_in_threadpool(
        lambda: records.inquiry_list(console_of(request).store, status, recipient)
    )
    header = (
        "inquiry",
        "recipient",
        "model",
        "status",
        "questions",
        "opened",
        "answered",
        "reviewed_by",
        "reviewed_at",
        "note",
    )
    rows = [
        (
            r.id,
            r.recipient_id,
            r.repo_id,
            r.status,
            " ".join(r.questions),
            r.opened_at.isoformat(),
            r.answered_at,
            r.reviewed_by,
            r.reviewed_at,
            r.review_note,
        )
        for r in found
    ]
    return csv_response("inquiries", header, rows)


async def inquiry(request: Request, session: Session) -> Response:
    view = await run_in_threadpool(
        records.inquiry, console_of(request).store, path_id(request, "inquiry_id")
    )
    return render(request, "inquiry.html", {"view": view}, session=session)


async def screening_hit(request: Request, session: Session) -> Response:
    raw = str(request.path_params["hit_id"])
    if not raw.isdigit() or len(raw) > 12:
        raise InputError("id", "expected the number of a screening result")
    hit = await run_in_threadpool(screening.get, console_of(request).store, int(raw))
    return render(request, "screening.html", {"hit": hit}, session=session)


async def decision_list(request: Request, session: Session) -> Response:
    f = decision_filter(request)
    raw = _text(request, "before", 18)
    if raw and not raw.isdigit():
        raise InputError("before", "expected an entry number")
    before = int(raw) if raw else None
    rows = await run_in_threadpool(
        lambda: decisions.search(console_of(request).store, f, limit=PAGE, before=before)
    )
    older = _query_string(request, before=str(rows[-1].seq)) if len(rows) == PAGE else None
    return render(
        request,
        "decisions.html",
        {
            "rows": rows,
            "f": f,
            "older": older,
            "query": _query_string(request, before=None),
            "verdicts": VERDICTS,
            "form": dict(request.query_params),
        },
        session=session,
    )


async def decisions_csv(request: Request, session: Session) -> Response:
    f = decision_filter(request)
    store = console_of(request).store
    header = (
        "seq",
        "decision_id",
        "recorded_at",
        "recipient",
        "model",
        "file",
        "verdict",
        "basis",
        "rulesets",
        "allowed",
        "mode",
        "inquiry",
    )
    rows = (
        (
            r.seq,
            r.decision_id,
            r.recorded_at.isoformat(),
            r.recipient_id,
            r.repo_id,
            r.file,
            r.verdict,
            r.basis,
            " ".join(r.rulesets),
            r.allowed,
            r.mode,
            r.inquiry_id or "",
        )
        for r in decisions.iter_decisions(store, f)
    )
    return csv_response("decisions", header, rows)


async def decision_page(request: Request, session: Session) -> Response:
    row, place = await run_in_threadpool(
        decisions.decision, console_of(request).store, path_id(request, "decision_id")
    )
    return render(
        request, "decision.html", {"row": row, "place": place, "p": row.payload}, session=session
    )


async def recipient_list(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.recipient_list, console_of(request).store)
    return render(request, "recipients.html", {"recipients": found}, session=session)


async def recipients_csv(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.recipient_list, console_of(request).store)
    header = (
        "id",
        "name",
        "headquarters",
        "parent",
        "parent_headquarters",
        "default_destination",
        "destinations",
        "attestation_until",
    )
    rows = [
        (
            r.id,
            r.name,
            r.headquarters,
            r.parent_name or r.parent_kind,
            r.parent_headquarters,
            r.default_destination,
            " ".join(r.destinations),
            r.attestation_valid_until,
        )
        for r in found
    ]
    return csv_response("recipients", header, rows)


async def recipient(request: Request, session: Session) -> Response:
    detail = await run_in_threadpool(
        records.recipient_detail, console_of(request).store, path_id(request, "recipient_id")
    )
    return render(request, "recipient.html", detail, session=session)


async def license_list(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.license_list, console_of(request).store)
    return render(
        request, "licenses.html", {"licenses": found, "today": date.today()}, session=session
    )


async def licenses_csv(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.license_list, console_of(request).store)
    header = (
        "number",
        "recipient",
        "models",
        "destinations",
        "valid_from",
        "valid_until",
        "transfers",
        "max_transfers",
        "revoked_at",
    )
    rows = [
        (
            x.number,
            x.recipient_id,
            " ".join(x.models),
            " ".join(x.destinations),
            x.valid_from,
            x.valid_until,
            x.transfers,
            x.max_transfers,
            x.revoked_at,
        )
        for x in found
    ]
    return csv_response("licenses", header, rows)


async def model_list(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.model_list, console_of(request).store)
    return render(request, "models.html", {"models": found}, session=session)


async def models_csv(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.model_list, console_of(request).store)
    return csv_response("models", ("repo_id",), [(m,) for m in found])


async def model(request: Request, session: Session) -> Response:
    repo = _text(request, "repo")
    if not repo:
        raise InputError("repo", "name a repository")
    detail = await run_in_threadpool(records.model_detail, console_of(request).store, repo)
    return render(request, "model.html", {"m": detail}, session=session)


async def audit_page(request: Request, session: Session) -> Response:
    console = console_of(request)
    found = await run_in_threadpool(chain.state, console.store)
    actions = await run_in_threadpool(chain.recent_actions, console.store)
    return render(
        request,
        "audit.html",
        {"chain": found, "job": console.verifier.job, "actions": actions},
        session=session,
    )


async def verify_status(request: Request, session: Session) -> Response:
    job = console_of(request).verifier.job
    if job is None:
        return JSONResponse({"running": False, "result": None})
    return JSONResponse(
        {
            "running": job.running,
            "seconds": round(job.seconds, 1),
            "result": None if job.result is None else job.result.to_dict(),
            "error": job.error,
        }
    )


async def checkpoint(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(chain.latest_checkpoint, console_of(request).store)
    return JSONResponse(
        found,
        headers={"Content-Disposition": f'attachment; filename="checkpoint-{found["seq"]}.json"'},
    )


async def dashboard(request: Request, session: Session) -> Response:
    raw = _text(request, "days", 4) or "30"
    if not raw.isdigit() or not 1 <= int(raw) <= 366:
        raise InputError("days", "expected a number of days from 1 to 366")
    days = int(raw)
    last = datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    f = decisions.DecisionFilter(since=_start(first))

    def collect() -> charts.Summary:
        return charts.summarise(decisions.iter_decisions(console_of(request).store, f), first, last)

    summary = await run_in_threadpool(collect)
    return render(
        request,
        "dashboard.html",
        {
            "s": summary,
            "days": days,
            "verdicts": charts.VERDICTS,
            "colours": charts.COLOURS,
            "bars": charts.bars_svg(summary),
            "models_svg": charts.hbars_svg(summary.top_refused_models, "Most refused models"),
            "recipients_svg": charts.hbars_svg(
                summary.top_refused_recipients, "Most refused recipients"
            ),
        },
        session=session,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/", page(queue)),
        Route("/queue.csv", page(queue_csv)),
        Route("/inquiries", page(inquiry_list)),
        Route("/inquiries.csv", page(inquiries_csv)),
        Route("/inquiries/{inquiry_id}", page(inquiry)),
        Route("/screening/{hit_id}", page(screening_hit)),
        Route("/decisions", page(decision_list)),
        Route("/decisions.csv", page(decisions_csv)),
        Route("/decisions/{decision_id}", page(decision_page)),
        Route("/recipients", page(recipient_list)),
        Route("/recipients.csv", page(recipients_csv)),
        Route("/recipients/{recipient_id}", page(recipient)),
        Route("/licenses", page(license_list)),
        Route("/licenses.csv", page(licenses_csv)),
        Route("/models", page(model_list)),
        Route("/models.csv", page(models_csv)),
        Route("/models/show", page(model)),
        Route("/audit", page(audit_page)),
        Route("/audit/verify.json", page(verify_status)),
        Route("/audit/checkpoint.json", page(checkpoint)),
        Route("/dashboard", page(dashboard)),
    ]
