"""CSV exports of the console's lists, with the same filters as the pages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gate.console import decisions, records
from gate.console.csvout import csv_response
from gate.console.filters import decision_filter, inquiry_filter
from gate.console.web import console_of, page
from gate.store.officers import Session


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


async def inquiries_csv(request: Request, session: Session) -> Response:
    status, recipient = inquiry_filter(request)
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


async def models_csv(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(records.model_list, console_of(request).store)
    return csv_response("models", ("repo_id",), [(m,) for m in found])


def routes() -> list[BaseRoute]:
    return [
        Route("/queue.csv", page(queue_csv)),
        Route("/inquiries.csv", page(inquiries_csv)),
        Route("/decisions.csv", page(decisions_csv)),
        Route("/recipients.csv", page(recipients_csv)),
        Route("/licenses.csv", page(licenses_csv)),
        Route("/models.csv", page(models_csv)),
    ]
