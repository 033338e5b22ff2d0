"""Hostile input gets a 4xx and bounded work (issue 11 item 8), through the real server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gate.rules import countries
from gate.store import audit, credentials, recipients
from tests.server.conftest import ServerThread, StoreKeeper, safetensors_bytes
from tests.server.test_classifying import facts_for

ACME = {"Authorization": "Bearer tok-acme"}


@pytest.fixture()
def vague(keeper: StoreKeeper) -> dict[str, str]:
    """A recipient whose ultimate parent is unknown: a controlled model holds with an inquiry."""
    recipients.add(
        keeper.store,
        "r-vague",
        actor="tests",
        name="Vague GmbH",
        headquarters="DE",
        destinations=["DE"],
        default_destination="DE",
    )
    token, _ = credentials.create_token(keeper.store, "r-vague", actor="tests")
    return {"Authorization": f"Bearer {token}"}


def _inquiry(gate: ServerThread, headers: dict[str, str]) -> str:
    url = f"{gate.url}/lab/frontier/resolve/main/model-00001-of-00002.safetensors"
    refused = httpx.get(url, headers=headers)
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["basis"] == "parties_unknown"
    return str(body["inquiry"]["id"])


def _answer_url(gate: ServerThread, inquiry_id: str) -> str:
    return f"{gate.url}/api/gate/inquiries/{inquiry_id}/answers"


def test_inquiry_answers_over_64_kib_get_413(gate: ServerThread, vague: dict[str, str]) -> None:
    url = _answer_url(gate, _inquiry(gate, vague))
    big = b'{"ultimate_parent": "' + b"x" * (64 * 1024) + b'"}'
    declared = httpx.post(url, content=big, headers={**vague, "Content-Type": "application/json"})
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while reading
        yield big[:40_000]
        yield big[40_000:]

    chunked = httpx.post(url, content=chunks(), headers=vague)
    assert chunked.status_code == 413


def test_deep_json_and_lone_surrogates_are_422_and_store_nothing(
    gate: ServerThread, keeper: StoreKeeper, vague: dict[str, str]
) -> None:
    url = _answer_url(gate, _inquiry(gate, vague))
    deep = b"[" * 30_000 + b"]" * 30_000
    assert httpx.post(url, content=deep, headers=vague).status_code == 422
    deep_object = b'{"ultimate_parent": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001
    assert httpx.post(url, content=deep_object, headers=vague).status_code == 422
    # JSON can spell a lone surrogate as an escape; no database can store it.
    lone = b'{"ultimate_parent": {"name": "\\ud800 Holdings", "headquarters": "DE"}}'
    answered = httpx.post(url, content=lone, headers=vague)
    assert answered.status_code == 422, answered.text
    assert "answered" not in _inquiry_events(keeper)
    undecodable = httpx.post(url, content=b'{"a": "\xff"}', headers=vague)
    assert undecodable.status_code == 422


def _inquiry_events(keeper: StoreKeeper) -> list[str]:
    return [e.payload.get("event") for e in audit.iter_entries(keeper.store, kind="inquiry")]


def test_re_answering_is_rate_limited(gate: ServerThread, vague: dict[str, str]) -> None:
    url = _answer_url(gate, _inquiry(gate, vague))
    answer = {"ultimate_parent": {"name": "Vague Holding", "headquarters": "DE"}}
    statuses = [httpx.post(url, json=answer, headers=vague).status_code for _ in range(8)]
    assert statuses[0] == 200
    assert 429 in statuses, statuses
    limited = httpx.post(url, json=answer, headers=vague)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    # Another recipient is not held back by this one's pace.
    other = httpx.post(_answer_url(gate, "inq_0000000000000000"), json=answer, headers=ACME)
    assert other.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/open/small/resolve/main/%ff",
        "/open/small/resolve/%ff%fe/config.json",
        "/%ff/small/resolve/main/config.json",
        "/api/models/open/%ff",
        "/api/models/open/small/tree/%ff",
        "/api/models/open/small/revision/main%c3",
    ],
)
def test_undecodable_paths_are_4xx(gate: ServerThread, path: str) -> None:
    for method in ("GET", "HEAD"):
        response = httpx.request(method, gate.url + path, headers=ACME)
        assert 400 <= response.status_code < 500, (method, path, response.status_code)


@pytest.mark.parametrize(
    "header",
    [
        "bytes=" + "9" * 5000 + "-",
        "bytes=0-" + "9" * 5000,
        "bytes=-" + "9" * 5000,
        "bytes=\xb2-",  # superscript two: `isdigit()` to Python, not a number to `int`
        "bytes=" + "1" * 20 + "-",
    ],
)
def test_over_long_or_odd_range_numbers_are_416(gate: ServerThread, header: str) -> None:
    url = f"{gate.url}/open/small/resolve/main/config.json"
    response = httpx.get(url, headers={**ACME, "Range": header.encode("latin-1")})
    assert response.status_code == 416
    assert len(response.headers["X-Error-Message"]) <= 512


@pytest.mark.parametrize(
    "decision_id", ["9" * 5000, "\u00b2", "%00", "dec_%ff", "a" * 65, "..%2f..%2fetc"]
)
def test_odd_receipt_and_inquiry_ids_are_404(gate: ServerThread, decision_id: str) -> None:
    receipt = httpx.get(f"{gate.url}/api/gate/receipts/{decision_id}", headers=ACME)
    assert receipt.status_code == 404, receipt.text
    answered = httpx.post(_answer_url(gate, decision_id), json={}, headers=ACME)
    assert answered.status_code == 404, answered.text


def test_error_messages_quote_only_a_short_prefix(gate: ServerThread) -> None:
    url = f"{gate.url}/open/small/resolve/main/config.json"
    marker = "Q" * 20_000
    response = httpx.get(url, headers={**ACME, "X-Gate-Destination": marker})
    assert response.status_code == 422
    assert len(response.headers["X-Error-Message"]) <= 512
    assert len(response.content) <= 1024
    assert marker not in response.text


def test_huge_headers_are_refused_before_any_work(gate: ServerThread) -> None:
    url = f"{gate.url}/open/small/resolve/main/config.json"
    response = httpx.get(url, headers={**ACME, "X-Gate-Destination": "D" * (1 << 20)})
    assert response.status_code in (400, 431)


def test_rejected_country_strings_are_not_cached() -> None:
    before = countries._resolve.cache_info().currsize
    for i in range(50):
        with pytest.raises(Exception, match="unknown or ambiguous country"):
            countries.normalize_country(f"{i}" + "z" * 1_000_000, field="destination")
    assert countries._resolve.cache_info().currsize == before


def test_a_client_that_sends_half_a_body_and_leaves_does_not_hold_the_gate(
    gate: ServerThread, vague: dict[str, str]
) -> None:
    url = _answer_url(gate, _inquiry(gate, vague))
    host, port = gate.url.removeprefix("http://").split(":")
    for _ in range(20):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                f"POST {url.removeprefix(gate.url)} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: {vague['Authorization']}\r\n"
                "Content-Length: 5000\r\n\r\n{".encode()
            )
    assert httpx.get(f"{gate.url}/healthz").status_code == 200


@pytest.mark.parametrize(
    "files",
    [
        {"config.json": b"[" * 100_000 + b"]" * 100_000},
        {"config.json": b'{"a": ' * 50_000 + b"1" + b"}" * 50_000},
        {"README.md": b"---\nbase_model: " + b"[" * 50_000 + b"]" * 50_000 + b"\n---\n"},
        {"model.safetensors.index.json": b'{"weight_map": ' * 50_000 + b"{}" + b"}" * 50_000},
    ],
    ids=["config-array", "config-object", "card", "index"],
)
def test_metadata_the_parser_cannot_read_leaves_the_model_unknown(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    """Not a 500: the model is unclassified, so its compute is unknown and transfers hold."""
    facts = facts_for(tmp_path, "lab/odd", {"model.safetensors": safetensors_bytes(1), **files})
    assert facts.training_compute.high is None
    assert facts.training_compute.method == "unclassified"
    assert "not classified" in (facts.publication_evidence or "")
