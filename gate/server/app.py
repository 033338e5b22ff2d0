"""The FastAPI app: hub-compatible routes in front of a model source, gated per request.

Hub routes are dispatched from the raw path (see `gate.server.paths`), because the client sends
percent-encoded revisions and file paths that decoded path parameters would mangle. The gate's
own routes (`/healthz`, `/readyz`, `/metrics`, `/api/gate/...`) are ordinary FastAPI routes.
Every GateError becomes a response in one place (`gate.server.dialect.error_response`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gate.crypto.keys import Signer
from gate.errors import GateError, InputError, NotFoundError
from gate.hub.source import ModelSource
from gate.server import api, dialect
from gate.server.paths import parse_api, parse_resolve
from gate.server.resolve import handle_resolve
from gate.server.state import RECORDS_CONCURRENCY, ServerState
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
) -> FastAPI:
    """The gate's HTTP app. The gatekeeper's mode rules: in "shadow" it decides and records
    but lets every byte through."""
    mode = gatekeeper.mode
    state = ServerState(
        source=source,
        gatekeeper=gatekeeper,
        tree_page_size=tree_page_size,
        facts=facts,
        public_keys=jwks,
        sidecars=None if signer is None else Sidecars(source, gatekeeper, signer, facts),
        records_limiter=anyio.CapacityLimiter(records_concurrency),
    )

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

    @app.exception_handler(GateError)
    async def _gate_error(request: Request, exc: GateError) -> Response:
        return dialect.error_response(exc, request.method)

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
        return JSONResponse(await run_in_threadpool(gatekeeper.receipt, caller, decision_id))

    @app.post("/api/gate/inquiries/{inquiry_id}/answers")
    async def answer_inquiry(inquiry_id: str, request: Request) -> Response:
        caller = await state.authenticate(request)
        try:
            answers: Any = await request.json()
        except ValueError as exc:
            raise InputError("body", "expected a JSON object of answers") from exc
        if not isinstance(answers, dict):
            raise InputError("body", "expected a JSON object of answers")
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
        if request.method in ("GET", "HEAD"):
            hub_path = parse_resolve(raw_path)
            if hub_path is not None:
                return await handle_resolve(request, hub_path, state)
        raise InputError("path", "not a route of this gate")

    return app
