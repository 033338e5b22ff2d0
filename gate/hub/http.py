"""The one place where a Hugging Face-compatible server's answer becomes an error.

Like `huggingface_hub`'s `hf_raise_for_status`: the hub's `X-Error-Code` header tells a missing
repository from a missing revision or file, `X-Error-Message` says why, and the status decides
the rest. Every reader of a hub (the upstream source, `gate classify --endpoint`) calls it.
"""

from __future__ import annotations

import httpx

from gate.errors import GateError, UpstreamAuthError, UpstreamError
from gate.hub.source import EntryNotFound, RepoNotFound, RevisionNotFound

MAX_QUOTED = 200


def hub_error(response: httpx.Response, what: str) -> GateError | None:
    """The error a response stands for (None for a success); `what` names what was asked."""
    status = response.status_code
    if status < 400:
        return None
    # A hub's message is quoted, never more than a short prefix of it (a hostile or broken hub
    # may send megabytes, which the gate would otherwise pass on in its own error line).
    message = response.headers.get("X-Error-Message", "")[:MAX_QUOTED] or None
    detail = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    code = response.headers.get("X-Error-Code")
    if status == 404 or code in ("RepoNotFound", "RevisionNotFound", "EntryNotFound"):
        if code == "RevisionNotFound":
            return RevisionNotFound(f"{what}: revision not found ({detail})")
        if code == "EntryNotFound":
            commit = response.headers.get("X-Repo-Commit", "")[:40]
            return EntryNotFound(f"{what}: file not found ({detail})", commit)
        return RepoNotFound(f"{what}: repository not found ({detail})")
    if status in (401, 403):
        return UpstreamAuthError(f"{what}: refused by {response.url.host} ({detail})")
    return UpstreamError(f"{what}: {detail} from {response.url.host}")


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Raise the error a response stands for; nothing for a success."""
    error = hub_error(response, what)
    if error is not None:
        raise error
