"""`python -m weight_gate_hf inquiry show|answer` against the real gate on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from weight_gate_hf.__main__ import main
from weight_gate_hf.inquiry import parse_answers

from gate.errors import GateError
from gate.hub.local import LocalStore
from gate.server.app import create_app
from gate.store import inquiries
from tests.plugins.conftest import ReceiptKeeper
from tests.server.conftest import Repos, ServerThread

INQUIRY_PATH = "/api/gate/inquiries/{inquiry_id}"

QUESTIONS = [
    {
        "id": "export_destinations",
        "meaning": "intended export destinations",
        "answer_shape": {"type": "array", "items": {"type": "string"}},
    },
    {
        "id": "license_obligation_acknowledged",
        "meaning": "acknowledgment of the license obligation",
        "answer_shape": {"type": "boolean"},
    },
]


def _add_get_route(app: Any, keeper: ReceiptKeeper) -> None:
    """The recipient's GET of an inquiry in the shape issue 13 documents (questions with id,
    meaning and JSON answer shape; the state), read from the real records and served ahead of the
    app's routes so the test pins the client against that shape. Answers go to the app's own
    POST route, through the real store-backed gatekeeper."""

    async def show(request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            caller = keeper.authenticate(token)
            record = inquiries.get(keeper.store, request.path_params["inquiry_id"])
        except GateError:
            return JSONResponse({"error": "inquiry not found"}, status_code=404)
        if record.recipient_id != caller.recipient_id:
            return JSONResponse({"error": "inquiry not found"}, status_code=404)
        shapes = {q["id"]: q for q in QUESTIONS}
        return JSONResponse(
            {
                "id": record.id,
                "repo_id": record.repo_id,
                "state": record.status,
                "questions": [shapes[q] for q in record.questions],
                "answers": dict(record.answers) if record.answers else None,
            }
        )

    app.router.routes.insert(0, Route(INQUIRY_PATH, show, methods=["GET"]))


@pytest.fixture()
def inquiry_id(keeper: ReceiptKeeper) -> str:
    """A real open inquiry of r-acme about lab/frontier, asking the two QUESTIONS."""
    with keeper.store.write() as conn:
        return inquiries.open_or_reuse(
            conn, keeper.store, "r-acme", "lab/frontier", [q["id"] for q in QUESTIONS]
        )


@pytest.fixture()
def inquiry_gate(repos: Repos, keeper: ReceiptKeeper, inquiry_id: str) -> Iterator[ServerThread]:
    app = create_app(LocalStore(repos.root), keeper)
    _add_get_route(app, keeper)
    with ServerThread(app) as server:
        yield server


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_lists_questions_and_how_to_answer(
    inquiry_gate: ServerThread, inquiry_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["inquiry", "show", inquiry_id, "--endpoint", inquiry_gate.url, "--token", "tok-acme"]
    code, out, _ = run(base, capsys)
    assert code == 0
    assert "state open" in out and "export_destinations: intended export destinations" in out
    assert '"type": "boolean"' in out
    assert f"inquiry answer {inquiry_id} export_destinations=... license_obligation" in out
    code, out, _ = run([*base, "--json"], capsys)
    assert code == 0 and json.loads(out)["questions"] == QUESTIONS


def test_answer_posts_typed_values(
    inquiry_gate: ServerThread,
    keeper: ReceiptKeeper,
    inquiry_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        [
            "inquiry",
            "answer",
            inquiry_id,
            "--endpoint=" + inquiry_gate.url,
            "--token=tok-acme",
            'export_destinations=["DE", "FR"]',
            "license_obligation_acknowledged=true",
        ],
        capsys,
    )
    assert code == 0, err
    assert f"answers recorded for inquiry {inquiry_id}; state answered" in out
    assert inquiries.get(keeper.store, inquiry_id).answers == {
        "export_destinations": ["DE", "FR"],
        "license_obligation_acknowledged": True,
    }
    # A value the gate refuses comes back as its reason, exit 1.
    code, _, err = run(
        [
            "inquiry",
            "answer",
            inquiry_id,
            f"--endpoint={inquiry_gate.url}",
            "--token=tok-acme",
            "export_destinations=Atlantis",
            "license_obligation_acknowledged=true",
        ],
        capsys,
    )
    assert code == 1 and "the gate answered 4" in err and "export_destinations" in err


def test_refusals_and_bad_usage(
    inquiry_gate: ServerThread,
    inquiry_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("GATE_PLUGIN_ENDPOINT", "HF_ENDPOINT", "GATE_PLUGIN_TOKEN", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # Someone else's inquiry (or a wrong token): the gate's refusal, exit 1.
    code, _, err = run(
        ["inquiry", "show", inquiry_id, "--endpoint", inquiry_gate.url, "--token", "tok-dragon"],
        capsys,
    )
    assert code == 1 and "the gate answered 404" in err
    # The endpoint comes from the environment; no endpoint at all names the setting, exit 2.
    monkeypatch.setenv("GATE_PLUGIN_TOKEN", "tok-acme")
    code, _, err = run(["inquiry", "show", inquiry_id], capsys)
    assert code == 2 and "GATE_PLUGIN_ENDPOINT" in err
    monkeypatch.setenv("GATE_PLUGIN_ENDPOINT", inquiry_gate.url)
    assert run(["inquiry", "show", inquiry_id], capsys)[0] == 0
    code, _, err = run(["inquiry", "answer", inquiry_id, "no-equals-sign"], capsys)
    assert code == 2 and "expected key=value" in err
    code, _, err = run(["inquiry", "answer", inquiry_id], capsys)
    assert code == 2 and "no answers given" in err


def test_parse_answers() -> None:
    assert parse_answers(
        [
            "destination=DE",
            "ultimate_parent.name=Acme Holdings",
            "ultimate_parent.headquarters=DE",
            'security_attestation={"valid_until": "2027-01-01"}',
            "count=3",
        ]
    ) == {
        "destination": "DE",
        "ultimate_parent": {"name": "Acme Holdings", "headquarters": "DE"},
        "security_attestation": {"valid_until": "2027-01-01"},
        "count": 3,
    }
    with pytest.raises(Exception, match="given twice"):
        parse_answers(["a=1", "a=2"])
