"""Repository identity in the records is one case-insensitive key (issue 10, item 6).

The hub resolves `Acme/Frontier` and `acme/frontier` to one repository, so every records match
(designations, overrides, classifications, licenses, inquiries, trained-for) must too; the CLI
says which repository it matched and refuses a name the configured source does not have unless
`--force`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gate.cli.main import run
from gate.core.decide import decide
from gate.core.values import ComputeInterval, ModelFacts
from gate.rules.loader import load_default_ruleset
from gate.store import inquiries, licenses, models, recipients
from gate.store.db import Store
from gate.store.facts import build_request

COMMIT = "e" * 40
SMALL = ModelFacts(
    repo_id="acme/frontier",
    commit=COMMIT,
    published=False,
    training_compute=ComputeInterval.exactly(1e20),
)


def _request(store: Store, repo: str, recipient: str = "beta") -> object:
    facts = ModelFacts(
        repo_id=repo,
        commit=COMMIT,
        published=False,
        training_compute=ComputeInterval.exactly(1e20),
    )
    return build_request(
        store,
        recipient=recipient,
        repo_id=repo,
        commit=COMMIT,
        revision="main",
        file="model.safetensors",
        destination=None,
        day=date(2026, 6, 1),
        model_facts=facts,
    )


def test_a_designation_in_another_case_applies(store: Store) -> None:
    recipients.add(
        store, "beta", actor="t", name="Beta", headquarters="IN", parent="self", destinations=["IN"]
    )
    ruleset = load_default_ruleset()
    assert decide(_request(store, "acme/frontier"), ruleset).verdict.value == "allow"  # type: ignore[arg-type]
    models.designate(store, "Acme/Frontier", reason="is-informed letter", actor="op")
    for spelling in ("acme/frontier", "ACME/FRONTIER", "Acme/Frontier"):
        request = _request(store, spelling)
        assert request.model.designated, spelling  # type: ignore[attr-defined]
        assert decide(request, ruleset).verdict.value != "allow"  # type: ignore[arg-type]
    models.undesignate(store, "ACME/frontier", reason="withdrawn", actor="op")
    assert not _request(store, "Acme/Frontier").model.designated  # type: ignore[attr-defined]


def test_overrides_trained_for_classifications_licenses_inquiries_match_any_case(
    store: Store,
) -> None:
    recipients.add(
        store, "beta", actor="t", name="Beta", headquarters="IN", parent="self", destinations=["IN"]
    )
    models.classify(store, "ACME/Frontier", actor="op", reason="letter", published=False)
    models.set_trained_for(store, "Acme/FRONTIER", "beta", actor="op")
    models.record_classification(store, SMALL)
    licenses.add(
        store,
        "L-1",
        recipient_id="beta",
        models=["ACME/FRONTIER"],
        destinations=["IN"],
        valid_until=date(2027, 1, 1),
        actor="op",
    )
    request = _request(store, "acme/FRONTIER")
    assert request.trained_on_operator_infrastructure  # type: ignore[attr-defined]
    assert request.model.publication_evidence.startswith("operator override")  # type: ignore[attr-defined]
    assert [lic.number for lic in request.licenses] == ["L-1"]  # type: ignore[attr-defined]
    assert models.get_classification(store, "Acme/Frontier", COMMIT) is not None
    with store.write() as conn:
        first = inquiries.open_or_reuse(conn, store, "beta", "Acme/Frontier", ["end_use"])
        again = inquiries.open_or_reuse(conn, store, "beta", "acme/frontier", ["end_use"])
    assert first == again
    shown = models.show(store, "ACME/FRONTIER")
    assert shown["repo_id"] == "acme/frontier" and shown["trained_for"]


def _hf_cache(root: Path, repo: str) -> None:
    folder = root / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMIT)
    snapshot = folder / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")


def test_cli_says_what_it_matched_and_refuses_unknown_names(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("GATE_UPSTREAM", raising=False)
    db = ("--db", database_url)
    # No source configured: accepted, and it says the name was not checked.
    monkeypatch.delenv("GATE_STORE", raising=False)
    assert run(["models", "designate", "Other/Model", "--reason", "r", *db]) == 0
    assert "not checked" in capsys.readouterr().out
    _hf_cache(tmp_path / "hub", "acme/frontier")
    monkeypatch.setenv("GATE_STORE", str(tmp_path / "hub"))
    assert run(["models", "designate", "Acme/Frontier", "--reason", "letter", *db]) == 0
    out = capsys.readouterr().out
    assert "matched acme/frontier" in out and "records key acme/frontier" in out
    assert run(["models", "designate", "acme/frontir", "--reason", "typo", *db]) == 3
    assert "has no repository 'acme/frontir'" in capsys.readouterr().err
    assert run(["models", "designate", "acme/frontir", "--reason", "x", "--force", *db]) == 0
    assert "--force" in capsys.readouterr().out
    assert run(["models", "show", "ACME/FRONTIER", "--json", *db]) == 0
    assert '"repo_id": "acme/frontier"' in capsys.readouterr().out
