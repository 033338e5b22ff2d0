"""Refusals and errors in the hub's dialect: the one place errors become HTTP responses.

What the unmodified `huggingface_hub` client does with each (read from its source, 2.4):
- 403 + `X-Error-Code: GatedRepo` raises `GatedRepoError`, with `X-Error-Message` and the body's
  `error` in the message and `X-Request-Id` after the first line. A plain 403 on HEAD would be
  reported as a connection problem with the reason hidden, so every refusal is `GatedRepo`.
- 404 + `RepoNotFound` / `RevisionNotFound` / `EntryNotFound`; `EntryNotFound` is cached by the
  client as "file does not exist", so it is only ever sent for a file truly absent from a commit.
- 401 reads as "repository not found, authenticate"; our message rides along.
- `X-Error-Message` must be one ASCII line (it is an HTTP header).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from gate.errors import (
    AuthError,
    GateError,
    InputError,
    NotFoundError,
    RateLimited,
    StoreError,
    UpstreamBusy,
    UpstreamError,
)
from gate.hub.source import EntryNotFound, RepoNotFound, RevisionNotFound
from gate.server.paths import RangeNotSatisfiable
from gate.service.gatekeeper import GateAnswer

MAX_MESSAGE = 512
"""Longest error line sent: messages quote only short excerpts of input, and this caps the
rest (an over-long `X-Error-Message` breaks the client's header parsing)."""


def ascii_line(text: str) -> str:
    """One ASCII line of at most `MAX_MESSAGE` characters, no trailing period."""
    line = " ".join(str(text)[: MAX_MESSAGE * 4].split())
    if len(line) > MAX_MESSAGE:
        line = line[: MAX_MESSAGE - 3] + "..."
    return line.encode("ascii", "replace").decode("ascii").rstrip(". ")


def _response(
    status: int,
    message: str,
    method: str,
    *,
    code: str | None = None,
    body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    line = ascii_line(message)
    out = {"X-Error-Message": line}
    if code is not None:
        out["X-Error-Code"] = code
    out.update(headers or {})
    payload = json.dumps(dict(body) if body is not None else {"error": line}).encode()
    if method == "HEAD":
        # Starlette would say `content-length: 0` for an empty HEAD; say what GET would send.
        out["Content-Length"] = str(len(payload))
        return Response(status_code=status, headers=out, media_type="application/json")
    return Response(payload, status_code=status, headers=out, media_type="application/json")


def refusal(answer: GateAnswer, method: str, commit: str) -> Response:
    """403 GatedRepo for a transfer the gate does not allow, with the whole decision on GET."""
    body: dict[str, Any] = {
        "error": answer.message,
        "decision_id": answer.decision_id,
        "verdict": answer.verdict.value,
        "basis": answer.basis,
        "decision": dict(answer.decision),
    }
    if answer.inquiry_id is not None:
        body["inquiry"] = {
            "id": answer.inquiry_id,
            "answer_url": f"/api/gate/inquiries/{answer.inquiry_id}/answers",
        }
    headers = {
        "X-Request-Id": answer.decision_id,
        "X-Repo-Commit": commit,
        # The `hf` command prints "Access denied ... requires approval" and hides the message;
        # it does print warnings, so the reason rides along as one (topic = decision id).
        "X-HF-Warning": f"gate-{answer.decision_id}; {ascii_line(answer.message)}",
        **answer.headers,
    }
    return _response(403, answer.message, method, code="GatedRepo", body=body, headers=headers)


def xet_refused(method: str) -> Response:
    """Xet tokens would let the client fetch bytes around the gate: never issued."""
    return _response(
        403,
        "gate: Xet storage is not available through this gate; files are served by /resolve only",
        method,
        code="GatedRepo",
    )


def error_response(exc: GateError, method: str) -> Response:
    """Map any GateError to the hub's dialect (the only place the server does so)."""
    message = f"gate: {exc}"
    if isinstance(exc, RangeNotSatisfiable):
        return _response(416, message, method, headers={"Content-Range": f"bytes */{exc.size}"})
    if isinstance(exc, EntryNotFound):
        return _response(
            404, message, method, code="EntryNotFound", headers={"X-Repo-Commit": exc.commit}
        )
    if isinstance(exc, RevisionNotFound):
        return _response(404, message, method, code="RevisionNotFound")
    if isinstance(exc, RepoNotFound) or (
        isinstance(exc, InputError) and exc.field in ("path", "repo_id")
    ):
        # A path the gate will not parse names no repository it serves.
        return _response(404, message, method, code="RepoNotFound")
    if isinstance(exc, NotFoundError):
        return _response(404, message, method)
    if isinstance(exc, AuthError):
        return _response(401, message, method, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, StoreError):
        return _response(503, f"gate: records store unavailable, nothing served: {exc}", method)
    if isinstance(exc, RateLimited | UpstreamBusy):
        retry = str(max(1, round(exc.retry_after)))
        return _response(exc.http_status, message, method, headers={"Retry-After": retry})
    if isinstance(exc, UpstreamError):
        return _response(502, message, method)
    return _response(exc.http_status, message, method)
