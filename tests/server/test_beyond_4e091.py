"""The proxy decides under the ruleset set, with restricted-party screening, end to end.

The demo's world behind `build_gate` (as `gate serve` builds it) on SQLite and PostgreSQL, the
real huggingface_hub client, the officer's commands through `gate.cli.main.run`. What the tests
expect comes from RULES.md "Beyond 4E091": a comprehensively embargoed headquarters denies even a
closed model below the threshold; a confirmed restricted party is denied; an unreviewed possible
match holds until an officer clears it; and it is the set, not the 4E091 ruleset, that denies Iran.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError

from gate.cli.main import run
from gate.core.procedure import PROCEDURE_VERSION
from gate.demo.scenario import build_world, seed_records
from gate.errors import InputError
from gate.rules.loader import load_shipped_set, shipped_ruleset_paths
from gate.screening.lists import parse_file
from gate.server.background import BackgroundServer
from gate.server.serve import build_gate
from gate.service.build import startup_lines
from gate.store import (
    audit,
    credentials,
    inquiries,
    recipients,
    screening,
    screening_lists,
    screening_runs,
)
from gate.store.verify import verify_chain
from tests.server.test_store_gate import Running

SMALL = "acme/closed-small"  # closed, declared 2.4e24 operations: below the threshold
FRONTIER = "acme/frontier-x"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("GATE_") and name != "GATE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "cli-data"))


def _start(tmp_path: Path, database_url: str) -> Iterator[Running]:
    world = build_world(tmp_path / "world", database_url)
    gate = build_gate(world.settings)
    seed_records(world, gate.store)
    try:
        with BackgroundServer(gate.app) as server:
            yield Running(world, gate, server.url)
    finally:
        gate.close()


@pytest.fixture
def running(tmp_path: Path, database_url: str) -> Iterator[Running]:
    yield from _start(tmp_path, database_url)


def _download(running: Running, who: str, repo_id: str, path: str, cache: Path) -> bytes:
    return Path(
        hf_hub_download(
            repo_id, path, endpoint=running.url, token=running.world.tokens[who], cache_dir=cache
        )
    ).read_bytes()


def _weights(running: Running, repo_id: str) -> str:
    """The model's first parameter file (by the gate's own reading of the names)."""
    return next(
        p for p in sorted(running.files(repo_id)) if running.gate.gatekeeper.is_parameters(p)
    )


def _decisions(running: Running, who: str, repo_id: str, path: str) -> list[dict[str, Any]]:
    rid = running.world.recipient_ids[who]
    return [
        dict(e.payload)
        for e in audit.iter_entries(running.gate.store, kind="decision")
        if e.payload["meta"]["recipient_id"] == rid
        and e.payload["meta"]["repo_id"] == repo_id
        and e.payload["meta"]["file"] == path
    ]


def test_an_iranian_recipient_gets_no_byte_of_a_closed_model_below_the_threshold(
    running: Running, tmp_path: Path
) -> None:
    with pytest.raises(GatedRepoError, match=r"deny \(comprehensive_embargo\)"):
        _download(running, "tehran", SMALL, _weights(running, SMALL), tmp_path / "c")
    # What is not parameters still goes.
    files = running.files(SMALL)
    for path in ("config.json", "README.md"):
        assert _download(running, "tehran", SMALL, path, tmp_path / "c") == files[path]
    folder = tmp_path / "snap"
    with pytest.raises(GatedRepoError):
        snapshot_download(
            SMALL, endpoint=running.url, token=running.world.tokens["tehran"], local_dir=folder
        )
    assert not (folder / _weights(running, SMALL)).exists()
    (recorded, *_) = _decisions(running, "tehran", SMALL, _weights(running, SMALL))
    decision = recorded["decision"]
    assert isinstance(decision, dict)
    assert (decision["verdict"], decision["basis"]) == ("deny", "comprehensive_embargo")
    assert decision["procedure_version"] == PROCEDURE_VERSION
    # Every ruleset of the set with its hash, and each one's own answer.
    shipped = load_shipped_set()
    assert [(r["id"], r["sha256"], r["basis"]) for r in decision["rulesets"]] == [
        (shipped.rulesets[0].id, shipped.rulesets[0].sha256, "below_threshold"),
        (shipped.rulesets[1].id, shipped.rulesets[1].sha256, "comprehensive_embargo"),
    ]
    assert recorded["allowed"] is False
    assert verify_chain(running.gate.store).ok


def test_a_confirmed_restricted_party_is_denied(running: Running, tmp_path: Path) -> None:
    with pytest.raises(GatedRepoError, match=r"deny \(restricted_party\)"):
        _download(running, "orion", SMALL, _weights(running, SMALL), tmp_path / "c")
    (recorded, *_) = _decisions(running, "orion", SMALL, _weights(running, SMALL))
    request = recorded["request"]
    assert isinstance(request, dict) and request["recipient"]["screening"] == "match"
    # A party the list does not name downloads the same model.
    assert (
        _download(running, "nordic", SMALL, _weights(running, SMALL), tmp_path / "c")
        == (running.files(SMALL)[_weights(running, SMALL)])
    )
    (clear, *_) = _decisions(running, "nordic", SMALL, _weights(running, SMALL))
    assert clear["request"]["recipient"]["screening"] == "clear"


def test_a_domestic_transfer_is_allowed(running: Running, tmp_path: Path) -> None:
    got = _download(running, "hudson", FRONTIER, _weights(running, FRONTIER), tmp_path)
    assert got == running.files(FRONTIER)[_weights(running, FRONTIER)]
    (recorded, *_) = _decisions(running, "hudson", FRONTIER, _weights(running, FRONTIER))
    assert recorded["decision"]["basis"] == "domestic_transfer"


def test_a_possible_match_holds_until_an_officer_clears_it(
    running: Running, tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--db", database_url)
    # A German company whose name is on the list (the listed one is Austrian): a possible match.
    code = run(
        [
            "recipients", "add", "argent-de", "--name", "Argent Compute Systems", "--hq", "DE",
            "--no-parent", "--destination", "DE", "--default-destination", "DE", *db,
        ]
    )  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 0 and "possible match" in err
    token, _ = credentials.create_token(running.gate.store, "argent-de", actor="tests")
    running.world.tokens["argent"] = token
    running.world.recipient_ids["argent"] = "argent-de"
    with pytest.raises(GatedRepoError, match=r"hold \(restricted_party_review\)"):
        _download(running, "argent", SMALL, _weights(running, SMALL), tmp_path / "c")
    (hit,) = screening.list_results(
        running.gate.store, recipient_id="argent-de", status="possible_match"
    )
    code = run(
        [
            "screening", "review", str(hit.id), "--clear", "--reason",
            "different company: Handelsregister HRB 4711", "--officer", "o.smith", *db,
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert (
        _download(running, "argent", SMALL, _weights(running, SMALL), tmp_path / "c")
        == (running.files(SMALL)[_weights(running, SMALL)])
    )
    recorded = _decisions(running, "argent", SMALL, _weights(running, SMALL))
    seen = [(d["decision"]["verdict"], d["request"]["recipient"]["screening"]) for d in recorded]
    # The client asks more than once per download (HEAD, GET): in order, held then allowed.
    assert list(dict.fromkeys(seen)) == [("hold", "possible_match"), ("allow", "clear")]


def test_an_approved_inquiry_that_names_a_listed_parent_screens_it(
    running: Running, tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--db", database_url)
    code = run(
        [
            "recipients", "add", "nova", "--name", "Nova Vision BV", "--hq", "NL",
            "--destination", "NL", "--default-destination", "NL", *db,
        ]
    )  # fmt: skip
    assert code == 0
    token, _ = credentials.create_token(running.gate.store, "nova", actor="tests")
    running.world.tokens["nova"] = token
    running.world.recipient_ids["nova"] = "nova"
    with pytest.raises(GatedRepoError, match=r"hold \(parties_unknown\)") as caught:
        _download(running, "nova", SMALL, _weights(running, SMALL), tmp_path / "c")
    inquiry_id = re.search(r"inquiry (inq_[0-9a-f]+) is open", str(caught.value)).group(1)  # type: ignore[union-attr]
    record = inquiries.get(running.gate.store, inquiry_id)
    assert "ultimate_parent" in record.questions
    answers: dict[str, Any] = {q: "for the test" for q in record.questions}
    answers["ultimate_parent"] = {"name": "Argent Compute Systems GmbH", "headquarters": "AT"}
    inquiries.answer(running.gate.store, inquiry_id, answers, by="recipient")
    capsys.readouterr()
    code = run(["inquiries", "approve", inquiry_id, "--note", "registry checked", *db])
    assert code == 0
    assert "possible match" in capsys.readouterr().err
    # The new parent is on the list: the next download waits for the officer.
    with pytest.raises(GatedRepoError, match=r"hold \(restricted_party_review\)"):
        _download(running, "nova", SMALL, _weights(running, SMALL), tmp_path / "c")


def test_the_set_is_what_denies_iran(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ai_diffusion = shipped_ruleset_paths()[0]
    monkeypatch.setenv("GATE_RULESETS", json.dumps([str(ai_diffusion)]))
    for running in _start(tmp_path, database_url):
        # 4E091 alone: a closed model below the threshold is not controlled, even to Iran.
        got = _download(running, "tehran", SMALL, _weights(running, SMALL), tmp_path / "c")
        assert got == running.files(SMALL)[_weights(running, SMALL)]
        (recorded, *_) = _decisions(running, "tehran", SMALL, _weights(running, SMALL))
        decision = recorded["decision"]
        assert isinstance(decision, dict)
        assert (decision["verdict"], decision["basis"]) == ("allow", "below_threshold")
        assert [r["id"] for r in decision["rulesets"]] == ["ai-diffusion-2025"]
        # ... and with no screening ruleset a confirmed restricted party is not refused either.
        assert _download(running, "orion", SMALL, _weights(running, SMALL), tmp_path / "c")
        lines = startup_lines(running.gate.service, running.world.settings, date.today())
        assert lines[1].startswith("  1. ai-diffusion-2025 sha256:") and len(lines) == 4


def test_startup_lines_name_the_set_and_warn_about_screening(
    running: Running, tmp_path: Path
) -> None:
    service, settings = running.gate.service, running.world.settings
    lines = startup_lines(service, settings, date.today())
    shipped = load_shipped_set()
    assert lines[1:3] == [f"  {i}. {r.id} sha256:{r.sha256}" for i, r in enumerate(shipped, 1)]
    assert lines[3] == f"procedure version {PROCEDURE_VERSION}"
    assert lines[4].startswith("screening: on") and not any("warning" in x for x in lines)
    later = date.today() + timedelta(days=settings.screening_max_age_days + 1)
    assert "warning: the screening list is" in startup_lines(service, settings, later)[-1]
    fresh = build_world(tmp_path / "other", f"sqlite:///{tmp_path / 'other.db'}")
    other = build_gate(fresh.settings)
    try:
        (warning,) = [x for x in startup_lines(other.service, fresh.settings, date.today())
                      if x.startswith("warning")]  # fmt: skip
        assert "screening is off" in warning
    finally:
        other.close()


def test_audit_show_and_replay_speak_of_the_set(
    running: Running,
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = ("--db", database_url)
    with pytest.raises(GatedRepoError):
        _download(running, "orion", SMALL, _weights(running, SMALL), tmp_path / "c")
    (recorded, *_) = _decisions(running, "orion", SMALL, _weights(running, SMALL))
    capsys.readouterr()
    assert run(["audit", "show", recorded["decision_id"], *db]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"ruleset 1\s*│ ai-diffusion-2025 \w+: allow \(below_threshold\)", shown)
    assert re.search(r"ruleset 2\s*│ ear-embargoes \w+: deny \(restricted_party\)", shown)
    assert re.search(r"screening\s*│ recipient match", shown)
    # Replayed under the recorded set nothing changes; under the server's set of 4E091 alone
    # (GATE_RULESETS, the default of `gate replay`) the restricted party would have been allowed.
    assert run(["replay", "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == 0
    monkeypatch.setenv("GATE_RULESETS", json.dumps([str(shipped_ruleset_paths()[0])]))
    assert run(["replay", "--json", *db]) == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert {(c["recipient"], c["before"]["basis"], c["after"]["basis"]) for c in changes} == {
        (running.world.recipient_ids["orion"], "restricted_party", "below_threshold")
    }


def test_the_demo_never_replaces_an_operators_screening_list(tmp_path: Path) -> None:
    world = build_world(tmp_path / "world", f"sqlite:///{tmp_path / 'operator.db'}")
    gate = build_gate(world.settings)
    try:
        real = Path(__file__).parents[1] / "screening" / "data" / "consolidated.json"
        screening_runs.import_list(
            gate.store, parse_file(real.name, real.read_bytes()), actor="operator"
        )
        before = screening_lists.state(gate.store, date.today()).list
        with pytest.raises(InputError, match="would replace"):
            seed_records(world, gate.store)
        assert screening_lists.state(gate.store, date.today()).list == before
        assert recipients.list_all(gate.store) == []
    finally:
        gate.close()


def test_require_screening_holds_a_party_never_screened(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ai, emb = shipped_ruleset_paths()
    strict = tmp_path / "ear-embargoes-strict.toml"
    text = emb.read_text(encoding="utf-8")
    assert "require_screening = false" in text
    strict.write_text(text.replace("require_screening = false", "require_screening = true"))
    monkeypatch.setenv("GATE_RULESETS", json.dumps([str(ai), str(strict)]))
    for running in _start(tmp_path, database_url):
        # Added straight to the records, never screened (no `gate recipients add` hook).
        recipients.add(
            running.gate.store,
            "unscreened",
            actor="tests",
            name="Fjord Analytics AS",
            headquarters="NO",
            parent="self",
            destinations=["NO"],
            default_destination="NO",
        )
        token, _ = credentials.create_token(running.gate.store, "unscreened", actor="tests")
        running.world.tokens["fjord"] = token
        running.world.recipient_ids["fjord"] = "unscreened"
        with pytest.raises(GatedRepoError, match=r"hold \(restricted_party_review\)"):
            _download(running, "fjord", SMALL, _weights(running, SMALL), tmp_path / "c")
        # Screened (clear), the same party downloads.
        screened = screening_runs.screen_recipient(running.gate.store, "unscreened", actor="tests")
        assert screened is not None and [r.status for r in screened] == ["clear"]
        got = _download(running, "fjord", SMALL, _weights(running, SMALL), tmp_path / "c")
        assert got == running.files(SMALL)[_weights(running, SMALL)]
        # The demo's screened, clear recipients were never held.
        assert _download(running, "nordic", SMALL, _weights(running, SMALL), tmp_path / "c")
