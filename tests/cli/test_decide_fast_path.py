"""`gate decide` without typer: the fast path must answer exactly as the typer command does.

`gate.cli.main.run` takes the common `gate decide` lines itself (no typer, rich, pydantic or
pycountry imported) and sends every other line to the typer application. Each line below runs
both ways, through `run` and straight through typer (`gate.cli.app.invoke`), and must give the
same exit code, the same standard output and the same standard error.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gate.cli.main import _decide_args, run
from gate.errors import GateError
from gate.rules.loader import shipped_ruleset_paths

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HOLD = str(EXAMPLES / "unknown-ultimate-parent.json")
IRAN = str(EXAMPLES / "closed-below-threshold-to-iran-denied.json")
AI, EMBARGOES = (str(p) for p in shipped_ruleset_paths())


def through_typer(argv: list[str]) -> int:
    from gate.cli.app import invoke
    from gate.cli.output import error_line

    try:
        return invoke(argv)
    except GateError as exc:  # mapped by run() in both cases
        error_line(f"error: {exc}")
        return exc.exit_code


LINES = [
    ["decide", HOLD],
    ["decide", HOLD, "--json"],
    ["decide", "--json", IRAN],
    ["decide", IRAN, "--ruleset", AI],
    ["decide", IRAN, f"--ruleset={AI}", "--ruleset", EMBARGOES, "--json"],
    ["decide", IRAN, "--ruleset", AI, "--ruleset", AI],
    ["decide", "/nonexistent/request.json"],
    ["decide", str(EXAMPLES)],
    ["decide", IRAN, "--ruleset", "/nonexistent/rules.toml"],
    # Lines the fast path leaves to typer: they must still answer the same.
    ["decide"],
    ["decide", "--bogus", IRAN],
    ["decide", IRAN, HOLD],
    ["decide", IRAN, "--ruleset"],
    ["decide", "--help"],
]


@pytest.mark.parametrize("argv", LINES, ids=lambda argv: " ".join(Path(a).name for a in argv))
def test_fast_path_answers_as_typer_does(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    fast = run(argv)
    fast_out = capsys.readouterr()
    slow = through_typer(argv)
    slow_out = capsys.readouterr()
    assert (fast, fast_out.out, fast_out.err) == (slow, slow_out.out, slow_out.err)


def test_stdin_takes_the_fast_path_and_answers_as_typer_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = Path(IRAN).read_bytes()
    outputs = []
    for runner in (run, through_typer):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
        outputs.append((runner(["decide", "-", "--json"]), capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0][1])["basis"] == "comprehensive_embargo"


@pytest.mark.parametrize(
    ("argv", "taken"),
    [
        (["decide", "r.json"], ("r.json", [], False)),
        (["decide", "-", "--json"], ("-", [], True)),
        (["decide", "--ruleset=a", "r", "--ruleset", "b"], ("r", [Path("a"), Path("b")], False)),
        (["decide"], None),
        (["decide", "--help"], None),
        (["decide", "r", "--ruleset"], None),
        (["decide", "r", "--ruleset", "--json"], None),
        (["decide", "r", "--ruleset="], None),
        (["decide", "r", "s"], None),
        (["decide", "--", "r"], None),
        (["--config", "c.toml", "decide", "r"], None),
        (["rules", "show"], None),
        ([], None),
    ],
)
def test_what_the_fast_path_takes(argv: list[str], taken: object) -> None:
    assert _decide_args(argv) == taken


@pytest.mark.slow
def test_decide_loads_no_cli_framework_validation_layer_or_country_package() -> None:
    code = (
        "import sys\n"
        "from gate.cli.main import run\n"
        "code = run(sys.argv[1:])\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "print('LOADED', sorted(roots & {'typer', 'click', 'rich', 'pydantic', 'pycountry'}))\n"
        "sys.exit(code)\n"
    )
    for extra in ([], ["--json"], ["--ruleset", AI, "--ruleset", EMBARGOES]):
        result = subprocess.run(
            [sys.executable, "-c", code, "decide", IRAN, *extra],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 11, result.stderr
        assert "LOADED []" in result.stdout


LINE_SETS = [
    [[("DENY", "bold red"), ("  basis: ", ""), ("presumption_of_denial", "bold")]],
    [[("  - Acme [bold] \\[x] ünïcode …", "")], [("    ", ""), ("15 CFR 740.27(a)", "dim")]],
    [[("tab\there", "")], [("bell\a and cr\r", "dim")]],  # control characters: rich's own way
    [[("", "")], [(":fire: stays as written", "")]],
]


@pytest.mark.parametrize("lines", LINE_SETS)
def test_plain_output_is_what_rich_writes_to_a_file(
    lines: list[list[tuple[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console
    from rich.text import Text

    from gate.cli.output import write_styled

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    ours, theirs = io.StringIO(), io.StringIO()
    write_styled(lines, ours)
    console = Console(file=theirs, highlight=False, soft_wrap=True)
    for line in lines:
        console.print(Text.assemble(*line))
    assert ours.getvalue() == theirs.getvalue()
    assert ":fire: stays" in ours.getvalue() or ":fire:" not in str(lines)


def test_colour_when_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.cli.output import write_styled

    monkeypatch.setenv("FORCE_COLOR", "1")
    out = io.StringIO()
    write_styled([[("ALLOW", "bold green"), ("  basis: x", "")]], out)
    assert out.getvalue() == "\x1b[1;32mALLOW\x1b[0m  basis: x\n"
