"""`gate screening ...` and the recipients hook end to end through `gate.cli.main.run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.cli.main import run
from gate.store import audit
from gate.store.db import open_store
from tests.screening.conftest import DATA


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)


def test_import_screen_review_and_status(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    db = ("--db", database_url)
    code, out, err = _run(capsys, "screening", "status", *db)
    assert code == 0 and "off" in out and "warning" in err
    code, _, err = _run(
        capsys, "recipients", "add", "hw", "--name", "HUAWEI TECHNOLOGIES CO LTD", "--hq", "CN", *db
    )
    assert code == 0 and err == ""  # no list yet: nothing to say
    code, out, _ = _run(
        capsys, "screening", "import", str(DATA / "consolidated.json"), "--by", "o.smith", *db
    )
    assert code == 0 and "12 entries" in out and "1 recipients screened" in out
    code, out, _ = _run(capsys, "screening", "import", str(DATA / "consolidated.json"), *db)
    assert code == 0 and "unchanged" in out
    code, out, _ = _run(capsys, "screening", "list", "--status", "possible_match", "--json", *db)
    (hit,) = json.loads(out)
    assert hit["recipient_id"] == "hw" and hit["entry_uid"] == "el-huawei-1"
    code, out, _ = _run(capsys, "screening", "show", str(hit["id"]), "--json", *db)
    assert code == 0 and json.loads(out)["entry"]["name"] == "Huawei Technologies Co., Ltd."
    code, _, err = _run(capsys, "screening", "review", str(hit["id"]), "--reason", "x", *db)
    assert code == 2 and "--clear or --confirm" in err
    code, out, _ = _run(
        capsys,
        "screening",
        "review",
        str(hit["id"]),
        "--confirm",
        "--reason",
        "same registered address",
        "--officer",
        "o.smith",
        *db,
    )
    assert code == 0 and "match, by o.smith" in out
    code, _, _ = _run(capsys, "audit", "verify", *db)
    assert code == 0
    store = open_store(database_url)
    try:
        (review,) = [
            e.payload
            for e in audit.iter_entries(store, kind="screening")
            if e.payload["action"] == "screening.review"
        ]
    finally:
        store.close()
    assert review["actor"] == "o.smith" and review["reason"] == "same registered address"
    code, out, _ = _run(capsys, "screening", "status", "--json", *db)
    state = json.loads(out)
    assert state["on"] and state["list"]["entry_count"] == 12


def test_recipient_add_and_update_are_screened(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    db = ("--db", database_url)
    code, _, _ = _run(
        capsys,
        "screening",
        "import",
        str(DATA / "consolidated.csv"),
        "--list-date",
        "2026-11-27",
        *db,
    )
    assert code == 0
    code, _, err = _run(capsys, "recipients", "add", "acme", "--name", "Acme", "--hq", "DE", *db)
    assert code == 0 and err == ""
    code, out, _ = _run(capsys, "screening", "list", "--recipient", "acme", "--json", *db)
    assert [r["status"] for r in json.loads(out)] == ["clear"]
    code, _, err = _run(
        capsys, "recipients", "update", "acme", "--parent", "Sberbank", "--parent-hq", "RU", *db
    )
    assert code == 0 and "parent 'Sberbank' possible match" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("import", "/nonexistent/list.json"), "cannot read"),
        (("import", "{csv}"), "--list-date"),
        (("import", "{csv}", "--list-date", "yesterday"), "YYYY-MM-DD"),
        (("show", "abc"), "result number"),
        (("list", "--status", "bad"), "clear, possible_match or match"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    argv = [a.replace("{csv}", str(DATA / "consolidated.csv")) for a in args]
    code, _, err = _run(capsys, "screening", *argv, "--db", f"sqlite:///{tmp_path}/g.db")
    assert code == 2 and message in err and "Traceback" not in err
