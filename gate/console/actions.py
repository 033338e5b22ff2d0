"""Signing in and out, and what officers do: review inquiries, classify, designate, verify.

Every action runs through `web.action` (an officer, the session's CSRF token, the same origin)
and ends in the audit chain with the officer's name, through the store call that makes it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gate.console import records, screening
from gate.console.auth import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    same_origin,
    set_cookie,
    tokens_match,
)
from gate.console.web import (
    action,
    console_of,
    current_session,
    error_page,
    path_id,
    plain,
    read_form,
    render,
    secure,
)
from gate.core.values import ComputeInterval
from gate.errors import InputError
from gate.store import officers
from gate.store.officers import SESSION_HOURS, Session

log = logging.getLogger("gate.console")


def _local(target: str | None) -> str:
    """Where to go after signing in: only a path on this console (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or len(target) > 2000:
        return "/"
    # Browsers drop tabs and newlines inside URLs ("/\t/evil" becomes "//evil") and read "\"
    # as "/": refuse anything but plain printable ASCII without backslashes.
    if any(not " " < c < "\x7f" or c == "\\" for c in target):
        return "/"
    return target


async def signin_form(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse(_local(request.query_params.get("next")), status_code=303)
    return _signin_page(request, "", 200)


def _signin_page(request: Request, message: str, status: int, name: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        {
            "message": message,
            "token": token,
            "name": name,
            "next": _local(request.query_params.get("next")),
        },
        session=None,
        status=status,
    )
    set_cookie(response, PRESESSION_COOKIE, token, secure=secure(request), max_age=3600)
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def signin(request: Request) -> Response:
    console = console_of(request)
    if not same_origin(request):
        return error_page(request, 403, "cross-site request refused", None)
    form = await read_form(request)
    if not tokens_match(form.get("token"), request.cookies.get(PRESESSION_COOKIE)):
        return _signin_page(request, "The form expired; sign in again.", 403)
    name = form.get("name", "").strip()[:100]
    keys = (f"client:{_client(request)}", f"name:{name.lower()}")
    wait = console.limiter.retry_after(*keys)
    if wait:
        response = _signin_page(
            request, f"Too many failed sign-ins; try again in {wait} s.", 429, name
        )
        response.headers["Retry-After"] = str(wait)
        return response
    officer = await run_in_threadpool(
        officers.authenticate, console.store, name, form.get("password", "")
    )
    if officer is None:
        console.limiter.failed(*keys)
        log.warning("console sign-in failed for %r from %s", name, _client(request))
        return _signin_page(request, "Wrong name or password.", 401, name)
    console.limiter.succeeded(keys[1])
    token = await run_in_threadpool(
        officers.start_session, console.store, officer, client=_client(request)
    )
    response = RedirectResponse(_local(form.get("next")), status_code=303)
    set_cookie(
        response, SESSION_COOKIE, token, secure=secure(request), max_age=int(SESSION_HOURS * 3600)
    )
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    return response


async def signout(request: Request) -> Response:
    session = await current_session(request)
    if session is not None:
        if not same_origin(request):
            return error_page(request, 403, "cross-site request refused", session)
        form = await read_form(request)
        if not tokens_match(form.get("csrf"), session.csrf):
            return error_page(request, 403, "missing or wrong form token", session)
        await run_in_threadpool(
            officers.end_session, console_of(request).store, request.cookies[SESSION_COOKIE]
        )
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _int(form: Mapping[str, str], name: str) -> int:
    value = form.get(name, "")
    if not value.isdigit() or len(value) > 9:
        raise InputError(name, "expected a whole number")
    return int(value)


async def review(request: Request, session: Session, form: Mapping[str, str]) -> Response:
    inquiry_id = path_id(request, "inquiry_id")
    choice = form.get("decision")
    if choice not in ("approve", "reject"):
        raise InputError("decision", "expected approve or reject")
    await run_in_threadpool(
        lambda: records.review(
            console_of(request).store,
            inquiry_id,
            approve=choice == "approve",
            officer=session.officer.name,
            note=_text(form, "note"),
            version=_int(form, "version"),
            digest=form.get("digest", ""),
        )
    )
    return RedirectResponse(f"/inquiries/{inquiry_id}?done={choice}", status_code=303)


def _repo(form: Mapping[str, str]) -> str:
    repo = plain(form.get("repo", "").strip(), "repo", 300)
    if not repo:  # the records keep repository ids of up to 300 characters
        raise InputError("repo", "name a repository id of at most 300 characters")
    return repo


def _text(form: Mapping[str, str], name: str, limit: int = 2000) -> str:
    return plain(form.get(name, "").strip(), name, limit)


def _float(form: Mapping[str, str], name: str) -> float | None:
    value = form.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise InputError(name, f"expected a number like 3.2e26, got {value[:40]!r}") from None
    if not number >= 0 or number == float("inf"):
        raise InputError(name, "expected a finite number of operations, 0 or more")
    return number


def _yes_no(form: Mapping[str, str], name: str) -> bool | None:
    value = form.get(name, "")
    if value in ("", "unchanged"):
        return None
    if value not in ("yes", "no"):
        raise InputError(name, "expected yes, no or unchanged")
    return value == "yes"


async def classify(request: Request, session: Session, form: Mapping[str, str]) -> Response:
    repo = _repo(form)
    low, high = _float(form, "compute_low"), _float(form, "compute_high")
    compute = None
    if low is not None or high is not None:
        if low is not None and high is not None and low > high:
            raise InputError("compute_low", "is above the high end")
        compute = ComputeInterval(low, high, None, "recorded", ())
    commit = _text(form, "commit", 64) or None
    await run_in_threadpool(
        lambda: records.classify(
            console_of(request).store,
            repo,
            officer=session.officer.name,
            reason=_text(form, "reason"),
            commit=commit,
            published=_yes_no(form, "published"),
            publication_evidence=_text(form, "evidence") or None,
            compute=compute,
            less_capable=_yes_no(form, "less_capable"),
        )
    )
    return _back_to_model(repo, "classified")


async def designate(request: Request, session: Session, form: Mapping[str, str]) -> Response:
    repo = _repo(form)
    await run_in_threadpool(
        lambda: records.designate(
            console_of(request).store,
            repo,
            officer=session.officer.name,
            reason=_text(form, "reason"),
            source=_text(form, "source", 500) or None,
        )
    )
    return _back_to_model(repo, "designated")


def _back_to_model(repo: str, done: str) -> Response:
    from urllib.parse import urlencode

    return RedirectResponse(f"/models/show?{urlencode({'repo': repo, 'done': done})}", 303)


async def verify(request: Request, session: Session, form: Mapping[str, str]) -> Response:
    console_of(request).verifier.start(session.officer.name)
    return RedirectResponse("/audit", status_code=303)


async def screening_review(request: Request, session: Session, form: Mapping[str, str]) -> Response:
    raw = str(request.path_params["hit_id"])
    if not raw.isdigit() or len(raw) > 12:
        raise InputError("id", "expected the number of a screening result")
    choice = form.get("decision", "")
    await run_in_threadpool(
        lambda: screening.review(
            console_of(request).store,
            int(raw),
            decision=choice,
            reason=_text(form, "reason"),
            officer=session.officer.name,
        )
    )
    done = "cleared" if choice == "clear" else "confirmed"
    return RedirectResponse(f"/screening/{raw}?done={done}", status_code=303)


async def checkpoint(request: Request, session: Session, form: Mapping[str, str]) -> Response:
    store = console_of(request).store
    await run_in_threadpool(records.checkpoint_now, store, session.officer.name)
    return RedirectResponse("/audit?done=checkpoint", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/signin", signin_form, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/inquiries/{inquiry_id}/review", action(review), methods=["POST"]),
        Route("/screening/{hit_id}/review", action(screening_review), methods=["POST"]),
        Route("/models/classify", action(classify), methods=["POST"]),
        Route("/models/designate", action(designate), methods=["POST"]),
        Route("/audit/verify", action(verify), methods=["POST"]),
        Route("/audit/checkpoint", action(checkpoint), methods=["POST"]),
    ]
