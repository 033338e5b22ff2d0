"""`gate decide REQUEST.json`: one decision from a request file, for a compliance officer."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from gate.cli.output import print_json, stdout
from gate.core.questions import Question
from gate.core.ruleset_set import decide_all
from gate.core.values import Decision, Verdict
from gate.errors import InputError
from gate.rules.loader import load_ruleset_set
from gate.schema import parse_request_json

EXIT_CODES = {
    Verdict.ALLOW: 0,
    Verdict.LICENSE_REQUIRED: 10,
    Verdict.DENY: 11,
    Verdict.HOLD: 12,
}

_COLOURS = {
    Verdict.ALLOW: "green",
    Verdict.LICENSE_REQUIRED: "yellow",
    Verdict.DENY: "red",
    Verdict.HOLD: "magenta",
}


def read_input(path: str) -> tuple[bytes, str]:
    """The bytes of `path` (or stdin for "-") and a name for messages."""
    if path == "-":
        return sys.stdin.buffer.read(), "stdin"
    try:
        return Path(path).read_bytes(), path
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a request JSON file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def render_decision(decision: Decision) -> None:
    out = stdout()
    colour = _COLOURS[decision.verdict]
    out.print(
        f"[bold {colour}]{decision.verdict.value.upper()}[/]  "
        f"basis: [bold]{decision.basis.value}[/]"
    )
    for reason in decision.reasons:
        out.print(f"  - {escape(reason.text)}")
        out.print(f"    [dim]{escape(reason.citation)}[/]")
    if decision.questions:
        out.print("  To decide, the gate needs to know:")
        for code in decision.questions:
            out.print(f"  ? {escape(Question(code).text)}")
    if decision.license_used:
        out.print(f"  license used: {escape(decision.license_used)}")
    for own in decision.rulesets:
        out.print(
            f"[dim]ruleset {escape(own.id)} sha256:{own.sha256[:16]}…: "
            f"{own.verdict.value} ({own.basis.value})[/]"
        )
    out.print(f"[dim]procedure {decision.procedure_version}[/]")


def decide_command(
    request: str = typer.Argument(..., help="Request JSON file, or - for standard input."),
    ruleset: list[Path] | None = typer.Option(
        None,
        "--ruleset",
        help="Ruleset TOML; repeat for a set, most restrictive wins (default: the shipped set).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
) -> int:
    """Decide one transfer. Exit 0 allow, 10 license_required, 11 deny, 12 hold, 2 bad input."""
    rules = load_ruleset_set(ruleset)
    data, source = read_input(request)
    decision = decide_all(parse_request_json(data, source), rules)
    if as_json:
        print_json(decision.to_dict())
    else:
        render_decision(decision)
    return EXIT_CODES[decision.verdict]


def register(app: typer.Typer) -> None:
    app.command("decide")(decide_command)
