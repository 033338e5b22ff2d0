"""`gate decide` and `gate rules` as a user runs them: output, exit codes, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gate.cli.main import run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def readme_examples() -> list[tuple[str, str, str]]:
    """(file, verdict, basis) for each example the README lists."""
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `examples/([\w.-]+\.json)` \| `(\w+)` \| `(\w+)` \|", text, re.M)
    return rows


def test_readme_lists_every_example() -> None:
    listed = {name for name, _, _ in readme_examples()}
    assert listed == {p.name for p in EXAMPLES.glob("*.json")}
    assert len(listed) >= 8


@pytest.mark.parametrize(("name", "verdict", "basis"), readme_examples())
def test_each_example_gives_its_documented_verdict(
    name: str, verdict: str, basis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["decide", str(EXAMPLES / name), "--json"])
    decision = json.loads(capsys.readouterr().out)
    assert (decision["verdict"], decision["basis"]) == (verdict, basis)
    assert code == {"allow": 0, "license_required": 10, "deny": 11, "hold": 12}[verdict]


def test_human_output_shows_verdict_reasons_citations_and_ruleset(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run(["decide", str(EXAMPLES / "embargoed-destination-denied.json")])
    out = capsys.readouterr().out
    assert code == 11
    assert "DENY" in out and "presumption_of_denial" in out
    assert "ECCN 4E091" in out and "ai-diffusion-2025" in out
    assert "destination CN" in out


def test_hold_lists_the_questions(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["decide", str(EXAMPLES / "unknown-ultimate-parent.json")]) == 12
    assert "ultimate parent" in capsys.readouterr().out


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    text = (EXAMPLES / "licensed-transfer-to-brazil.json").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert run(["decide", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["license_used"] == "D123456"


def bad(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "request.json"
    path.write_text(body)
    return path


BASE = json.loads((EXAMPLES / "licensed-transfer-to-brazil.json").read_text())


def with_change(path: list[str], value: object) -> str:
    data = json.loads(json.dumps(BASE))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"date": ', "not valid JSON"),
        ("[]", "request: expected a JSON object"),
        (with_change(["colour"], "red"), "colour: unknown field"),
        (
            with_change(["recipient", "headquarters"], "Atlantis"),
            "recipient.headquarters: unknown or ambiguous country 'Atlantis'",
        ),
        (
            with_change(["destination"], "Korea"),
            "destination: unknown or ambiguous country 'Korea'",
        ),
        (
            with_change(["model", "training_compute"], {"low": -5}),
            "model.training_compute.low: must not be negative",
        ),
        (
            with_change(["model", "training_compute"], {"low": 3e26, "high": 1e26}),
            "model.training_compute: low (3e+26) is above high (1e+26)",
        ),
        (with_change(["date"], "2025-02-30"), "date:"),
        (with_change(["model", "published"], "maybe"), "model.published:"),
        (
            with_change(["licenses"], [{"number": "X"}]),
            "licenses.0.recipient: required field is missing",
        ),
        (with_change(["inquiry"], {"status": "pending"}), "inquiry.status:"),
        (with_change(["recipient", "screening"], "maybe"), "recipient.screening:"),
        (
            with_change(
                ["recipient", "ultimate_parent"],
                {"name": "P", "headquarters": "US", "screening": "cleared"},
            ),
            "recipient.ultimate_parent.screening:",
        ),
        (with_change(["destination"], "UA-99"), "destination: unknown or ambiguous country"),
        # Python's json reads NaN and Infinity; a compute bound that is not a number is no bound.
        (
            with_change(["model", "training_compute"], {"low": 1e20, "high": float("nan")}),
            "model.training_compute.high: Input should be a finite number",
        ),
        (
            with_change(["model", "training_compute"], {"low": float("inf")}),
            "model.training_compute.low: Input should be a finite number",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    tmp_path: Path, body: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["decide", str(bad(tmp_path, body))])
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_screening_region_and_any_state_declarations_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(json.dumps(BASE))
    data["recipient"]["screening"] = None
    data["recipient"]["ultimate_parent"]["screening"] = "possible_match"
    data["inquiry"] = {"status": "open", "declared_destinations": ["ua-43"]}
    code = run(["decide", str(bad(tmp_path, json.dumps(data))), "--json"])
    decision = json.loads(capsys.readouterr().out)
    # The open inquiry's Crimea counts: the license names only Brazil, so 4E091 wants a
    # license, and ear-embargoes denies Crimea outright.
    assert code == 11
    assert (decision["verdict"], decision["basis"]) == ("deny", "comprehensive_embargo")
    assert decision["facts"]["destinations"] == ["BR", "UA-43"]


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["decide", "/nonexistent/request.json"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_custom_ruleset_changes_the_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gate.rules.loader import default_ruleset_path

    amended = tmp_path / "amended.toml"
    amended.write_text(
        default_ruleset_path().read_text().replace("operations = 1e26", "operations = 1e27")
    )
    assert run(["rules", "check", str(amended)]) == 0
    assert "valid ruleset" in capsys.readouterr().out
    code = run(
        [
            "decide",
            str(EXAMPLES / "embargoed-destination-denied.json"),
            "--ruleset",
            str(amended),
            "--json",
        ]
    )
    decision = json.loads(capsys.readouterr().out)
    assert code == 0  # [1.2e26, 2.5e26] is wholly below an amended 1e27 threshold
    assert decision["basis"] == "below_threshold"
    assert decision["ruleset"]["sha256"] != run_rules_sha()


def run_rules_sha() -> str:
    from gate.rules.loader import load_default_ruleset

    return load_default_ruleset().sha256


def test_rules_show_and_check_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "show"]) == 0
    out = capsys.readouterr().out
    assert "Tier 1" in out and "Group 2" in out and "1e+26" in out and "Macao (MO)" in out
    assert "Iran (IR)" in out and "UA-43" in out and "require_screening false" in out
    assert run(["rules", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in shown] == ["ai-diffusion-2025", "ear-embargoes"]
    assert shown[0]["groups"]["allied"]["tier"] == "Tier 1"
    assert "HK" in shown[0]["groups"]["embargoed"]["countries"]
    assert shown[1]["embargoed"] == sorted(
        ["CU", "IR", "KP", "SY", "UA-43", "UA-40", "UA-14", "UA-09", "RU", "BY"]
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("id = 1\n")
    assert run(["rules", "check", str(broken)]) == 2
    assert f"{broken}: " in capsys.readouterr().err


def test_repeated_ruleset_decides_under_the_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gate.rules.loader import shipped_ruleset_paths

    ai, embargoes = shipped_ruleset_paths()
    iran = str(EXAMPLES / "closed-below-threshold-to-iran-denied.json")
    # The 4E091 ruleset alone lets a closed model below the threshold go to Iran ...
    assert run(["decide", iran, "--ruleset", str(ai), "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["basis"] == "below_threshold" and len(alone["rulesets"]) == 1
    # ... the set refuses it, naming both rulesets' verdicts.
    assert run(["decide", iran, "--ruleset", str(ai), "--ruleset", str(embargoes), "--json"]) == 11
    both = json.loads(capsys.readouterr().out)
    assert (both["verdict"], both["basis"]) == ("deny", "comprehensive_embargo")
    assert both["ruleset"]["id"] == "ear-embargoes"
    assert [(r["id"], r["basis"]) for r in both["rulesets"]] == [
        ("ai-diffusion-2025", "below_threshold"),
        ("ear-embargoes", "comprehensive_embargo"),
    ]
    assert both["procedure_version"]
    # Human output names each ruleset's verdict.
    assert run(["decide", iran]) == 11
    out = capsys.readouterr().out
    assert "ai-diffusion-2025" in out and "ear-embargoes" in out and "below_threshold" in out
    # The same file twice is an error naming it.
    assert run(["decide", iran, "--ruleset", str(ai), "--ruleset", str(ai)]) == 2
    assert "also the id of" in capsys.readouterr().err


def test_equal_verdicts_the_first_ruleset_names_the_basis(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gate.rules.loader import shipped_ruleset_paths

    ai, embargoes = (str(p) for p in shipped_ruleset_paths())
    unknown = str(EXAMPLES / "unknown-ultimate-parent.json")
    for order in ([ai, embargoes], [embargoes, ai]):
        argv = ["decide", unknown, "--json"]
        for path in order:
            argv += ["--ruleset", path]
        assert run(argv) == 12
        decision = json.loads(capsys.readouterr().out)
        first = decision["rulesets"][0]["id"]
        assert decision["ruleset"]["id"] == first
        # Both held: both rulesets' reasons are listed.
        codes = [r["code"] for r in decision["reasons"]]
        assert codes.count("parties_unknown") == 2


def test_rules_export_writes_the_shipped_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["rules", "export", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["ai-diffusion-2025.toml", "ear-embargoes.toml"]
    capsys.readouterr()
    assert run(["rules", "check", *(str(tmp_path / n) for n in written)]) == 0
    assert capsys.readouterr().out.count("valid ruleset") == 2
    assert run(["rules", "export", str(tmp_path)]) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    assert run(["rules", "export", str(tmp_path), "--id", "ear-embargoes", "--force"]) == 0
    assert run(["rules", "export", str(tmp_path), "--id", "nope"]) == 2


@pytest.mark.slow
def test_console_script_end_to_end() -> None:
    # The installed `gate` command, as a newcomer runs it.
    gate = Path(sys.executable).with_name("gate")
    result = subprocess.run(
        [str(gate), "decide", str(EXAMPLES / "iaas-us-subsidiary-of-foreign-parent.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 12
    assert "duty_to_inquire" in result.stdout
    result = subprocess.run(
        [str(gate), "decide", "missing.json"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [["decide", "--bogus"], ["recipients", "add"], ["nosuch"], ["serve", "--log-level", "x"]],
)
def test_usage_errors_are_a_message_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "Error:" in err and "Traceback" not in err
