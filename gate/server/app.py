"""The FastAPI app: hub-compatible routes in front of a model source, gated per request.

Hub routes are dispatched from the raw path (see `gate.server.paths`), because the client sends
percent-encoded revisions and file paths that decoded path parameters would mangle. The gate's
own routes (`/healthz`, `/readyz`, `/metrics`, `/api/gate/...`) are ordinary FastAPI routes.
Every GateError becomes a response in one place (`gate.server.dialect.error_response`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gate.crypto.keys import Signer
from gate.errors import GateError, InputError, NotFoundError
from gate.hub.local import LocalStore
from gate.hub.source import ModelSource
from gate.names import is_opaque_id
from gate.networks import Network
from gate.server import api, dialect
from gate.server.forwarded import ClientAddress
from gate.server.limits import RateLimiter, RequestLimits, parse_json_body
from gate.server.paths import parse_api, parse_resolve
from gate.server.resolve import handle_resolve
from gate.server.state import RECORDS_CONCURRENCY, ServerState, log
from gate.service.classifying import ModelFactsProvider
from gate.service.gatekeeper import Gatekeeper
from gate.service.snapshot import Sidecars


def create_app(
    source: ModelSource,
    gatekeeper: Gatekeeper,
    *,
    tree_page_size: int = 1000,
    close_source: bool = True,
    facts: ModelFactsProvider | None = None,
    jwks: dict[str, object] | None = None,
    signer: Signer | None = None,
    records_concurrency: int = RECORDS_CONCURRENCY,
    on_shutdown: Callable[[], None] | None = None,
    trusted_proxies: tuple[Network, ...] = (),
    answer_limiter: RateLimiter | None = None,
) -> FastAPI:
    """The gate's HTTP app. The gatekeeper's mode rules: in "shadow" it decides and records
    but lets every byte through. Forwarded headers count only from `trusted_proxies`;
    `answer_limiter` paces re-answers of an inquiry (default: 5 at once, then 10 a minute)."""
    mode = gatekeeper.mode
    state = ServerState(
        source=source,
        gatekeeper=gatekeeper,
        tree_page_size=tree_page_size,
        facts=facts,
        public_keys=jwks,
        records_limiter=anyio.CapacityLimiter(records_concurrency),
    )
    if signer is not None:
        state.sidecars = Sidecars(source, gatekeeper, signer, facts, file_bytes=state.file_bytes)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if close_source:
            await source.aclose()
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)  # e.g. the audit checkpoint at shutdown

    app = FastAPI(
        title="Weight Gate proxy",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.gate = state
    answers_paced = answer_limiter or RateLimiter()

    async def gate_error(request: Request, exc: GateError) -> Response:
        response = dialect.error_response(exc, request.method)
        if response.status_code >= 500:
            # A failed store or source must leave a trace: logged and counted (never silent).
            state.metrics.count_error(response.status_code, type(exc).__name__)
            log.error(
                "request failed",
                extra={
                    "fields": {
                        "status": response.status_code,
                        "error": type(exc).__name__,
                        "detail": dialect.ascii_line(str(exc)),
                        "method": request.method,
                        "path": dialect.ascii_line(request.url.path),
                    }
                },
            )
        return response

    app.add_exception_handler(GateError, gate_error)  # type: ignore[arg-type]
    # Innermost: downloads skip the router (outer middlewares still apply).
    app.add_middleware(HubDownloads, state=state, on_error=gate_error)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        problems: list[str] = []
        try:
            await source.ready()
        except GateError as exc:
            problems.append(f"source: {exc}")
        try:
            await run_in_threadpool(gatekeeper.ready)
        except GateError as exc:
            problems.append(f"records: {exc}")
        if problems:
            state.metrics.count_error(503, "NotReady")
            log.error("not ready", extra={"fields": {"problems": problems}})
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready", "source": source.name, "mode": mode})

    @app.get("/metrics")
    async def metrics() -> Response:
        return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.api_route("/api/whoami-v2", methods=["GET"])
    async def whoami(request: Request) -> Response:
        return await api.whoami(request, state)

    @app.get("/.well-known/gate-keys.json")
    async def gate_keys() -> Response:
        # Public keys only: anyone may check a receipt or a snapshot bundle with them.
        if state.public_keys is None:
            raise NotFoundError("this gate has no signing keys")
        return JSONResponse(state.public_keys)

    @app.get("/api/gate/receipts/{decision_id}")
    async def receipt(decision_id: str, request: Request) -> Response:
        caller = await state.authenticate(request)
        if not is_opaque_id(decision_id):
            raise NotFoundError("no receipt for that decision id")
        return JSONResponse(await run_in_threadpool(gatekeeper.receipt, caller, decision_id))

    @app.get("/api/gate/inquiries/{inquiry_id}")
    async def show_inquiry(inquiry_id: str, request: Request) -> Response:
        # The recipient's side of a hold: what is asked, in which JSON shape, and how to answer.
        caller = await state.authenticate(request)
        record = await state.records_call(gatekeeper.inquiry, caller, inquiry_id)
        record["answer"] = {
            "method": "POST",
            "url": f"/api/gate/inquiries/{inquiry_id}/answers",
            "body": "a JSON object with one key per question id, each value in its answer_shape",
            "example": {q["id"]: q["answer_shape"].get("example") for q in record["questions"]},
        }
        return JSONResponse(record)

    @app.post("/api/gate/inquiries/{inquiry_id}/answers")
    async def answer_inquiry(inquiry_id: str, request: Request) -> Response:
        caller = await state.authenticate(request)
        if not is_opaque_id(inquiry_id):
            raise NotFoundError("unknown inquiry")
        answers: Any = parse_json_body(await request.body())
        if not isinstance(answers, dict):
            raise InputError("body", "expected a JSON object of answers")
        # Each answer is a write and an audit entry: a recipient may not make the gate do
        # them without end (429 with Retry-After).
        answers_paced.take(caller.recipient_id, "answers to inquiries")
        result = await run_in_threadpool(gatekeeper.answer_inquiry, caller, inquiry_id, answers)
        return JSONResponse(result)

    @app.api_route("/{rest:path}", methods=["GET", "HEAD", "POST"])
    async def hub(request: Request) -> Response:
        # The raw path keeps %2F in revisions and file names as the client sent them.
        raw = request.scope.get("raw_path") or request.url.path.encode()
        raw_path = raw.decode("latin-1").split("?", 1)[0]
        if raw_path.startswith("/api/"):
            if raw_path.rstrip("/") == "/api/agent-harnesses":
                return dialect.error_response(
                    InputError("path", "no agent harnesses here"), request.method
                )
            api_path = parse_api(raw_path)
            if api_path is not None:
                return await api.dispatch_api(request, api_path, state)
            raise InputError("path", "unknown API route")
        raise InputError("path", "not a route of this gate")

    # Outermost first: the real client address, then the caps on what a request may make the
    # gate hold, then cancellation when the client leaves (added last = outermost).
    app.add_middleware(RequestLimits, watch_disconnect=not isinstance(source, LocalStore))
    app.add_middleware(ClientAddress, trusted=trusted_proxies)
    return app


class HubDownloads:
    """`GET`/`HEAD /{repo}/resolve/{rev}/{path}`, answered before FastAPI's router.

    Downloads are most of what a platform sends (a HEAD and a GET per file, refusals too);
    matching them against every route and solving the endpoint's dependencies cost about as
    much as the framework's whole answer to `/healthz`. Errors are answered as the app's
    GateError handler answers them; everything else goes on to the app.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: ServerState,
        on_error: Callable[[Request, GateError], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.state = state
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        # The raw path keeps %2F in revisions and file names as the client sent them.
        raw = scope.get("raw_path") or scope["path"].encode()
        raw_path = raw.decode("latin-1").split("?", 1)[0]
        if raw_path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            hub_path = parse_resolve(raw_path)
            if hub_path is None:
                await self.app(scope, receive, send)
                return
            response = await handle_resolve(request, hub_path, self.state)
        except GateError as exc:
            response = await self.on_error(request, exc)
        await response(scope, receive, send)
