"""The console's request plumbing: sessions, CSRF, form bodies, page rendering, errors.

Pages (`gate.console.pages`) and actions (`gate.console.actions`) are wrapped by `page` (any
signed-in officer or viewer) or `action` (an officer, with the session's CSRF token, from the
same origin); both turn the gate's errors into an error page with the right status.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gate.console.auth import SESSION_COOKIE, SignInLimiter, same_origin, tokens_match
from gate.console.chain import Verifier
from gate.errors import GateError, InputError, NotFoundError
from gate.store import officers
from gate.store.db import Store
from gate.store.officers import Session

HERE = Path(__file__).parent
# What a `?done=` after an action says (fixed texts: the query cannot put words on the page).
DONE = {
    "approve": "Approved: the answers are now the recipient's facts.",
    "reject": "Rejected: the recipient's record is unchanged.",
    "classified": "Classification recorded.",
    "designated": "Designation recorded.",
    "checkpoint": "Checkpoint signed.",
    "cleared": "Cleared: the party is not the listed one.",
    "confirmed": "Confirmed: the party is the listed one; its transfers are denied.",
}
MAX_FORM_BYTES = 64 * 1024

Handler = Callable[[Request], Awaitable[Response]]
FormHandler = Callable[[Request, Session, Mapping[str, str]], Awaitable[Response]]


@dataclass
class Console:
    """What every page needs: the store, the templates, the limiter, the verify job."""

    store: Store
    templates: Environment
    limiter: SignInLimiter
    verifier: Verifier
    secure_cookies: bool


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    # Records hold dates and times: show them as ISO text rather than fail.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": str}
    return env


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


def path_id(request: Request, name: str) -> str:
    """A record id from the path: ids are short and plain, so anything else is not found
    (and never reaches the database, where a NUL byte is an error on PostgreSQL)."""
    value = str(request.path_params[name])
    if not _ID.match(value):
        raise NotFoundError(f"no such record {value[:40]!r}")
    return value


def plain(value: str, field: str, limit: int) -> str:
    """Free text from a form or a query: bounded, and no control characters but newlines/tabs."""
    if len(value) > limit:
        raise InputError(field, f"at most {limit} characters")
    if any(c < " " and c not in "\n\r\t" for c in value) or "\x7f" in value:
        raise InputError(field, "control characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(field, "not valid text") from None
    return value


def secure(request: Request) -> bool:
    return console_of(request).secure_cookies or request.url.scheme == "https"


async def current_session(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_in_threadpool(officers.session, console_of(request).store, token)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    session: Session | None,
    status: int = 200,
) -> HTMLResponse:
    page = console_of(request).templates.get_template(template)
    html = page.render(
        {
            **context,
            "session": session,
            "officer": None if session is None else session.officer,
            "csrf": None if session is None else session.csrf,
            "path": request.url.path,
            "done": DONE.get(request.query_params.get("done", "")),
        }
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str, session: Session | None) -> Response:
    return render(
        request,
        "error.html",
        {"status": status, "message": message},
        session=session,
        status=status,
    )


def page(handler: Callable[[Request, Session], Awaitable[Response]]) -> Handler:
    """A read page: any signed-in officer or viewer; others are sent to sign in."""

    async def endpoint(request: Request) -> Response:
        session = await current_session(request)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/signin?next={_quote(target)}", status_code=303)
        try:
            return await handler(request, session)
        except GateError as exc:
            return error_page(request, _status(exc), str(exc), session)

    return endpoint


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _status(exc: GateError) -> int:
    return 422 if isinstance(exc, InputError) else int(exc.http_status)


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST, at most 64 KiB; HTTPException (400/413/415) otherwise."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise HTTPException(413, "form too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    try:
        fields = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=64
        )
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "unreadable form") from None
    form = {k: v[-1] for k, v in fields.items()}
    if any("\x00" in k or "\x00" in v for k, v in form.items()):
        raise HTTPException(400, "NUL bytes are not allowed in a form")
    return form


def action(handler: FormHandler) -> Handler:
    """An officer's action: a signed-in officer (not a viewer), the session's CSRF token, the
    same origin. Anything else is refused before the handler runs."""

    async def endpoint(request: Request) -> Response:
        session = await current_session(request)
        if session is None:
            return error_page(request, 403, "sign in first", None)
        if not same_origin(request):
            return error_page(request, 403, "cross-site request refused", session)
        try:
            form = await read_form(request)
        except HTTPException as exc:
            return error_page(request, exc.status_code, str(exc.detail), session)
        if not tokens_match(form.get("csrf"), session.csrf):
            return error_page(request, 403, "missing or wrong form token; reload the page", session)
        if not session.officer.can_act:
            return error_page(request, 403, "viewers cannot act; ask an officer", session)
        try:
            return await handler(request, session, form)
        except GateError as exc:
            return error_page(request, _status(exc), str(exc), session)

    return endpoint
