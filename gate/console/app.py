"""The compliance console: an ASGI app of server-rendered pages over the records store.

`create_console_app(store, ...)` builds it; `gate serve --console-port P` serves it on its own
listener (loopback by default) so it is never exposed with the hub API by accident. Every read
page works without JavaScript; `static/console.js` only adds small conveniences.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from gate.console import actions, exports, pages
from gate.console.auth import SignInLimiter
from gate.console.chain import Verifier
from gate.console.web import HERE, Console, error_page, templates
from gate.errors import GateError
from gate.store.db import Store

log = logging.getLogger("gate.console")


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        return response


def create_console_app(
    store: Store,
    *,
    public_keys: Callable[[], Mapping[str, ec.EllipticCurvePublicKey] | None] | None = None,
    secure_cookies: bool = False,
    limiter: SignInLimiter | None = None,
) -> Starlette:
    """The console over `store`. `public_keys` gives the keys that check checkpoint signatures
    when an officer verifies the chain; `secure_cookies` marks cookies Secure even over plain
    HTTP (the console sits behind a TLS-terminating proxy)."""
    console = Console(
        store,
        templates(),
        limiter or SignInLimiter(),
        Verifier(store, public_keys or (lambda: None)),
        secure_cookies,
    )

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return error_page(request, status, str(detail), None)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("console error on %s", request.url.path, exc_info=exc)
        return error_page(request, 500, "internal error (logged)", None)

    async def store_failed(request: Request, exc: Exception) -> Response:
        log.warning("console request failed: %s", exc)
        status = exc.http_status if isinstance(exc, GateError) else 500
        return error_page(request, status, str(exc), None)

    routes = [
        *pages.routes(),
        *exports.routes(),
        *actions.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            HTTPException: http_error,
            GateError: store_failed,
            Exception: unexpected,
        },
    )
    app.state.console = console
    return app


__all__ = ["create_console_app"]
