"""The records commands end to end through `gate.cli.main.run`, on both databases."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from gate.cli.main import run
from gate.core.decide import decide
from gate.rules.loader import default_ruleset_path, load_default_ruleset
from gate.store import audit
from gate.store.db import open_store
from gate.store.facts import build_request
from gate.store.record import RequestMeta, record_decision
from tests.store.test_decision_records import CONTROLLED, DAY


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)


def test_recipient_lifecycle_and_bad_input(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    db = ("--db", database_url)
    code, out, _ = _run(
        capsys,
        "recipients",
        "add",
        "acme",
        "--name",
        "Acme",
        "--hq",
        "USA",
        "--no-parent",
        "--destination",
        "US",
        "--json",
        *db,
    )
    assert code == 0 and json.loads(out)["headquarters"] == "US"
    code, _, err = _run(capsys, "recipients", "add", "bad", "--name", "B", "--hq", "Atlantis", *db)
    assert code == 2 and "Atlantis" in err
    code, _, err = _run(capsys, "recipients", "show", "ghost", *db)
    assert code == 3 and "unknown recipient 'ghost'" in err
    code, _, err = _run(
        capsys,
        "licenses",
        "add",
        "L1",
        "--recipient",
        "acme",
        "--model",
        "4E091",
        "--destination",
        "IN",
        "--valid-until",
        "2026-02-30",
        *db,
    )
    assert code == 2 and "valid-until" in err
    code, out, _ = _run(capsys, "recipients", "list", "--json", *db)
    assert [r["id"] for r in json.loads(out)] == ["acme"]  # nothing half-written by the failures
    code, _, _ = _run(capsys, "recipients", "update", "acme", "--destination", "DE", *db)
    assert code == 0

    code, out, _ = _run(capsys, "recipients", "token", "create", "acme", "--json", *db)
    token = json.loads(out)["token"]
    store = open_store(database_url)
    from gate.store import credentials

    assert credentials.authenticate(store, token).id == "acme"
    code, out, _ = _run(capsys, "recipients", "show", "acme", "--json", *db)
    assert token not in out
    cred_id = json.loads(out)["credentials"][0]["id"]
    assert _run(capsys, "recipients", "token", "revoke", cred_id, *db)[0] == 0
    code, _, err = _run(capsys, "recipients", "token", "revoke", "nope", *db)
    assert code == 3
    code, _, _ = _run(capsys, "recipients", "remove", "acme", *db)
    assert code == 0
    store.close()


def test_audit_verify_show_export_report_replay(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    db = ("--db", database_url)
    assert (
        _run(
            capsys,
            "recipients",
            "add",
            "acme",
            "--name",
            "Acme",
            "--hq",
            "US",
            "--no-parent",
            "--destination",
            "US",
            *db,
        )[0]
        == 0
    )
    assert _run(capsys, "models", "designate", "org/other", "--reason", "letter", *db)[0] == 0
    store = open_store(database_url)
    ruleset = load_default_ruleset()
    ids = []
    for _ in range(3):
        request = build_request(
            store,
            recipient="acme",
            repo_id=CONTROLLED.repo_id,
            commit=CONTROLLED.commit,
            revision="main",
            file="w.safetensors",
            destination=None,
            day=DAY,
            model_facts=CONTROLLED,
        )
        entry = record_decision(
            store, request, decide(request, ruleset), RequestMeta(recipient_id="acme")
        )
        ids.append(entry.payload["decision_id"])

    code, out, _ = _run(capsys, "audit", "verify", "--json", *db)
    assert code == 0 and json.loads(out)["entries"] == 5
    code, out, _ = _run(capsys, "audit", "show", ids[0], "--json", *db)
    assert code == 0 and json.loads(out)["payload"]["decision"]["basis"] == "domestic_transfer"
    code, out, _ = _run(capsys, "audit", "show", ids[1], *db)
    assert code == 0 and "domestic_transfer" in out
    code, out, _ = _run(capsys, "audit", "export", "--format", "csv", *db)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["verdict"] for r in rows if r["kind"] == "decision"] == ["allow"] * 3
    code, out, _ = _run(capsys, "audit", "export", "--since", "2000-01-01", *db)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["seq"] for x in lines] == [1, 2, 3, 4, 5]
    assert _run(capsys, "audit", "export", "--since", "yesterday", *db)[0] == 2
    assert _run(capsys, "audit", "export", "--format", "xml", *db)[0] == 2

    code, out, _ = _run(capsys, "report", "--json", *db)
    summary = json.loads(out)
    assert summary["decisions"] == 3 and summary["by_verdict"] == {"allow": 3}
    assert summary["by_recipient"] == {"acme": 3}
    assert _run(capsys, "report", *db)[0] == 0

    amended = tmp_path / "amended.toml"
    amended.write_text(
        default_ruleset_path().read_text("utf-8").replace("operations = 1e26", "operations = 1e27"),
        "utf-8",
    )
    before = audit.verify_chain(store).entries
    code, out, _ = _run(capsys, "replay", "--ruleset", str(amended), "--json", *db)
    result = json.loads(out)
    assert code == 0 and result["decisions"] == 3 and result["changed"] == 3
    assert result["changes"][0]["after"]["basis"] == "below_threshold"
    code, out, _ = _run(capsys, "replay", "--ruleset", str(default_ruleset_path()), *db)
    assert code == 0 and "0 would change" in out
    assert audit.verify_chain(store).entries == before  # replay wrote nothing

    # Tamper: verify exits 1 and names the entry.
    with store.write() as conn:
        conn.execute(
            text("UPDATE audit_entries SET body = replace(body, 'acme', 'acmf') WHERE seq = 4")
        )
    code, out, _ = _run(capsys, "audit", "verify", *db)
    assert code == 1 and "BROKEN at entry 4" in out
    store.close()


def test_inquiry_commands(capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    db = ("--db", database_url)
    assert (
        _run(
            capsys,
            "recipients",
            "add",
            "beta",
            "--name",
            "Beta",
            "--hq",
            "DE",
            "--destination",
            "DE",
            *db,
        )[0]
        == 0
    )
    store = open_store(database_url)
    request = build_request(
        store,
        recipient="beta",
        repo_id=CONTROLLED.repo_id,
        commit=CONTROLLED.commit,
        revision=None,
        file=None,
        destination=None,
        day=DAY,
        model_facts=CONTROLLED,
    )
    entry = record_decision(
        store, request, decide(request, load_default_ruleset()), RequestMeta(recipient_id="beta")
    )
    inquiry_id = str(entry.inquiry_id)
    code, out, _ = _run(capsys, "inquiries", "list", "--status", "open", "--json", *db)
    assert [i["id"] for i in json.loads(out)] == [inquiry_id]
    code, _, err = _run(capsys, "inquiries", "approve", inquiry_id, "--note", "x", *db)
    assert code == 2 and "only answered ones" in err
    code, _, err = _run(
        capsys,
        "inquiries",
        "answer",
        inquiry_id,
        "--parent",
        "Beta AG",
        "--parent-hq",
        "Atlantis",
        *db,
    )
    assert code == 2 and "Atlantis" in err
    code, out, _ = _run(
        capsys,
        "inquiries",
        "answer",
        inquiry_id,
        "--parent",
        "Beta AG",
        "--parent-hq",
        "Switzerland",
        "--json",
        *db,
    )
    assert code == 0 and json.loads(out)["status"] == "answered"
    code, out, _ = _run(capsys, "inquiries", "approve", inquiry_id, "--note", "registry", *db)
    assert code == 0 and "completed" in out
    code, out, _ = _run(capsys, "recipients", "show", "beta", "--json", *db)
    assert json.loads(out)["ultimate_parent"] == {"name": "Beta AG", "headquarters": "CH"}
    code, out, _ = _run(capsys, "inquiries", "show", inquiry_id, *db)
    assert code == 0 and inquiry_id in out and "completed" in out
    assert _run(capsys, "inquiries", "show", "inq_nope", *db)[0] == 3
    store.close()


def test_models_commands(capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    db = ("--db", database_url)
    assert _run(capsys, "recipients", "add", "gamma", "--name", "G", *db)[0] == 0
    code, _, err = _run(
        capsys, "models", "classify", "org/m", "--reason", "r", "--compute", "lots", *db
    )
    assert code == 2 and "compute" in err
    assert (
        _run(
            capsys,
            "models",
            "classify",
            "org/m",
            "--reason",
            "declared",
            "--compute",
            "2e25",
            "--not-published",
            *db,
        )[0]
        == 0
    )
    assert _run(capsys, "models", "trained-for", "org/m", "gamma", *db)[0] == 0
    assert _run(capsys, "models", "trained-for", "org/m", "ghost", *db)[0] == 3
    code, out, _ = _run(capsys, "models", "show", "org/m", "--json", *db)
    data = json.loads(out)
    assert [o["field"] for o in data["overrides"]] == ["published", "training_compute"]
    assert data["trained_for"][0]["recipient_id"] == "gamma"
    assert _run(capsys, "models", "show", "org/none", *db)[0] == 3


def test_default_database_comes_from_settings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _run(capsys, "recipients", "add", "a", "--name", "A")[0] == 0
    assert (tmp_path / "data" / "gate.db").is_file()
