"""One place turns a hub's answer into an error (`gate.hub.http`), for every reader of a hub."""

from __future__ import annotations

import httpx
import pytest

from gate.errors import GateError, UpstreamAuthError, UpstreamError
from gate.hub.http import hub_error, raise_for_status
from gate.hub.source import EntryNotFound, RepoNotFound, RevisionNotFound


def response(status: int, **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "https://hub.example/api/models/org/m/revision/main")
    return httpx.Response(status, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "headers", "kind"),
    [
        (404, {}, RepoNotFound),
        (404, {"X-Error-Code": "RepoNotFound"}, RepoNotFound),
        (404, {"X-Error-Code": "RevisionNotFound"}, RevisionNotFound),
        (404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": "a" * 40}, EntryNotFound),
        (401, {}, UpstreamAuthError),
        (403, {"X-Error-Message": "gated"}, UpstreamAuthError),
        (500, {}, UpstreamError),
        (503, {}, UpstreamError),
    ],
)
def test_each_answer_has_one_error(
    status: int, headers: dict[str, str], kind: type[GateError]
) -> None:
    error = hub_error(response(status, **headers), "org/m@main")
    assert type(error) is kind
    assert "org/m@main" in str(error) and f"HTTP {status}" in str(error)
    with pytest.raises(kind):
        raise_for_status(response(status, **headers), "org/m@main")


def test_the_hubs_message_is_kept_and_success_is_no_error() -> None:
    error = hub_error(
        response(403, **{"X-Error-Message": "Access to model org/m is restricted"}), "x"
    )
    assert error is not None and "Access to model org/m is restricted" in str(error)
    assert isinstance(error, UpstreamError)  # a refused upstream is never the caller's 401
    assert hub_error(response(200), "x") is None
    assert hub_error(response(206), "x") is None
    raise_for_status(response(200), "x")


def test_entry_not_found_carries_the_commit() -> None:
    error = hub_error(
        response(404, **{"X-Error-Code": "EntryNotFound", "X-Repo-Commit": "b" * 40}), "f"
    )
    assert isinstance(error, EntryNotFound) and error.commit == "b" * 40


def test_a_hubs_long_message_is_quoted_short() -> None:
    """A broken or hostile hub's message is not passed on whole in the gate's own errors."""
    error = hub_error(response(500, **{"X-Error-Message": "m" * 100_000}), "org/m@main")
    assert error is not None and len(str(error)) < 400
