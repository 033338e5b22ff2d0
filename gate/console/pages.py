"""The console's read pages: every one works without JavaScript (CSV: `gate.console.exports`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gate.console import chain, charts, decisions, records, screening
from gate.console.filters import (
    INQUIRY_STATES,
    VERDICTS,
    decision_filter,
    inquiry_filter,
    start,
    text,
)
from gate.console.web import console_of, page, path_id, render
from gate.errors import InputError
from gate.store.officers import Session


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


async def inquiry_list(request: Request, session: Session) -> Response:
    status, recipient = inquiry_filter(request)
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
    raw = text(request, "before", 18)
    if raw and not raw.isdigit():
        raise InputError("before", "expected an entry number")
    before = int(raw) if raw else None
    store = console_of(request).store
    rows = await run_in_threadpool(lambda: decisions.search(store, f, limit=PAGE, before=before))
    known_recipients = [r.id for r in await run_in_threadpool(records.recipient_list, store)]
    known_models = await run_in_threadpool(records.model_list, store)
    older = _query_string(request, before=str(rows[-1].seq)) if len(rows) == PAGE else None
    return render(
        request,
        "decisions.html",
        {
            "rows": rows,
            "f": f,
            "older": older,
            "known_recipients": known_recipients,
            "known_models": known_models,
            "query": _query_string(request, before=None),
            "verdicts": VERDICTS,
            "form": dict(request.query_params),
        },
        session=session,
    )


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


async def model_list(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.model_list, console_of(request).store)
    return render(request, "models.html", {"models": found}, session=session)


async def model(request: Request, session: Session) -> Response:
    repo = text(request, "repo")
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
    raw = text(request, "days", 4) or "30"
    if not raw.isdigit() or not 1 <= int(raw) <= 366:
        raise InputError("days", "expected a number of days from 1 to 366")
    days = int(raw)
    last = datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    f = decisions.DecisionFilter(since=start(first))

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
        Route("/inquiries", page(inquiry_list)),
        Route("/inquiries/{inquiry_id}", page(inquiry)),
        Route("/screening/{hit_id}", page(screening_hit)),
        Route("/decisions", page(decision_list)),
        Route("/decisions/{decision_id}", page(decision_page)),
        Route("/recipients", page(recipient_list)),
        Route("/recipients/{recipient_id}", page(recipient)),
        Route("/licenses", page(license_list)),
        Route("/models", page(model_list)),
        Route("/models/show", page(model)),
        Route("/audit", page(audit_page)),
        Route("/audit/verify.json", page(verify_status)),
        Route("/audit/checkpoint.json", page(checkpoint)),
        Route("/dashboard", page(dashboard)),
    ]
