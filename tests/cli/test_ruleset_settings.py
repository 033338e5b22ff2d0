"""The ruleset set and screening settings: GATE_RULESETS, GATE_RULESET, the screening knobs."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from gate.cli.main import run
from gate.errors import InputError, RulesetError
from gate.rules.loader import shipped_ruleset_paths
from gate.server.settings import load_serve_settings
from gate.settings import ServeSettings, Settings
from gate.wiring import ruleset_set


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("GATE_") and name != "GATE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))


def test_default_is_the_shipped_set_in_order() -> None:
    settings = Settings()
    assert settings.ruleset_paths is None
    assert ruleset_set(settings).ids == ("ai-diffusion-2025", "ear-embargoes")
    assert (settings.screening_threshold, settings.screening_max_age_days) == (88.0, 30)


def test_gate_rulesets_names_the_set_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    ai, emb = shipped_ruleset_paths()
    monkeypatch.setenv("GATE_RULESETS", json.dumps([str(emb), str(ai)]))
    assert ruleset_set(Settings()).ids == ("ear-embargoes", "ai-diffusion-2025")
    monkeypatch.setenv("GATE_RULESETS", json.dumps([str(ai)]))
    assert ruleset_set(Settings()).ids == ("ai-diffusion-2025",)


def test_gate_ruleset_still_names_one_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_RULESET", str(shipped_ruleset_paths()[1]))
    assert ruleset_set(Settings()).ids == ("ear-embargoes",)


def test_both_at_once_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ai, _ = shipped_ruleset_paths()
    monkeypatch.setenv("GATE_RULESET", str(ai))
    monkeypatch.setenv("GATE_RULESETS", json.dumps([str(ai)]))
    with pytest.raises(InputError, match="GATE_RULESET and GATE_RULESETS"):
        Settings()
    assert run(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "both GATE_RULESET and GATE_RULESETS" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GATE_RULESETS", "[]"),
        ("GATE_RULESETS", "not json"),
        ("GATE_SCREENING_THRESHOLD", "101"),
        ("GATE_SCREENING_THRESHOLD", "-1"),
        ("GATE_SCREENING_MAX_AGE_DAYS", "-3"),
    ],
)
def test_bad_values_are_a_clear_input_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert run(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_a_bad_ruleset_file_stops_the_gate_before_it_serves(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('id = "x"\n', encoding="utf-8")
    monkeypatch.setenv("GATE_RULESETS", json.dumps([str(shipped_ruleset_paths()[0]), str(broken)]))
    with pytest.raises(RulesetError, match=r"broken\.toml"):
        ruleset_set(Settings())


def test_config_show_lists_them_with_their_sources(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ai, _ = shipped_ruleset_paths()
    monkeypatch.setenv("GATE_RULESETS", json.dumps([str(ai)]))
    config = tmp_path / "gate.toml"
    config.write_text("screening_max_age_days = 7\n", encoding="utf-8")
    assert run(["--config", str(config), "config", "show", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["settings"]
    assert rows["rulesets"] == {
        "value": [str(ai)],
        "source": "env",
        "env": "GATE_RULESETS",
        "description": rows["rulesets"]["description"],
    }
    assert (rows["screening_max_age_days"]["value"], rows["screening_max_age_days"]["source"]) == (
        7,
        "file",
    )
    assert (rows["screening_threshold"]["value"], rows["screening_threshold"]["source"]) == (
        88.0,
        "default",
    )


def test_worker_processes_rebuild_the_same_set(monkeypatch: pytest.MonkeyPatch) -> None:
    ai, emb = shipped_ruleset_paths()
    settings = load_serve_settings(None, {"store": Path("/srv/models")})
    settings = settings.model_copy(update={"rulesets": [emb, ai], "screening_threshold": 91.0})
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)
    rebuilt = ServeSettings()
    assert ruleset_set(rebuilt).ids == ("ear-embargoes", "ai-diffusion-2025")
    assert rebuilt.screening_threshold == 91.0


def test_screening_settings_reach_the_screening_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ("--db", f"sqlite:///{tmp_path / 'gate.db'}")
    data = Path(__file__).parents[1] / "screening" / "data" / "consolidated.csv"
    ten_days_ago = (date.today() - timedelta(days=10)).isoformat()
    assert run(["screening", "import", str(data), "--list-date", ten_days_ago, *db]) == 0
    capsys.readouterr()
    assert run(["screening", "status", *db]) == 0
    assert "warning" not in capsys.readouterr().err  # 10 days: fresh under the default 30
    monkeypatch.setenv("GATE_SCREENING_MAX_AGE_DAYS", "5")
    assert run(["screening", "status", *db]) == 0
    assert "10 days old" in capsys.readouterr().err
    # A stricter threshold makes a weaker candidate no hit (and the default makes it one).
    add = ["recipients", "add", "hw", "--name", "Huawai Technologies", "--hq", "CN", *db]
    monkeypatch.setenv("GATE_SCREENING_THRESHOLD", "100")
    assert run(add) == 0
    assert "possible match" not in capsys.readouterr().err
    monkeypatch.delenv("GATE_SCREENING_THRESHOLD")
    assert run(["recipients", "update", "hw", "--name", "Huawai Technologies Co", *db]) == 0
    assert "possible match" in capsys.readouterr().err
