"""`gate decide REQUEST.json`: one decision from a request file, for a compliance officer.

`decide` is the command itself; `gate.cli.main` calls it directly for the common command lines
(no typer), and `register` adds it to the typer application for everything else.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gate.cli.output import Styled, print_json, write_styled
from gate.core.questions import Question
from gate.core.ruleset_set import decide_all
from gate.core.values import Decision, Verdict
from gate.errors import InputError
from gate.rules.loader import load_ruleset_set
from gate.schema import parse_request_json

if TYPE_CHECKING:
    import typer

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


def decision_lines(decision: Decision) -> list[Styled]:
    """The human form of a decision: verdict, reasons with citations, questions, rulesets."""
    lines: list[Styled] = [
        [
            (decision.verdict.value.upper(), f"bold {_COLOURS[decision.verdict]}"),
            ("  basis: ", ""),
            (decision.basis.value, "bold"),
        ]
    ]
    for reason in decision.reasons:
        lines.append([(f"  - {reason.text}", "")])
        lines.append([("    ", ""), (reason.citation, "dim")])
    if decision.questions:
        lines.append([("  To decide, the gate needs to know:", "")])
        lines += [[(f"  ? {Question(code).text}", "")] for code in decision.questions]
    if decision.license_used:
        lines.append([(f"  license used: {decision.license_used}", "")])
    for own in decision.rulesets:
        verdict = f"{own.verdict.value} ({own.basis.value})"
        lines.append([(f"ruleset {own.id} sha256:{own.sha256[:16]}…: {verdict}", "dim")])
    lines.append([(f"procedure {decision.procedure_version}", "dim")])
    return lines


def render_decision(decision: Decision) -> None:
    write_styled(decision_lines(decision))


def decide(request: str, ruleset: Sequence[Path] | None, as_json: bool) -> int:
    """Decide the request in file `request` ("-": stdin) under `ruleset` (default: the shipped
    set), print the decision, and return its exit code."""
    rules = load_ruleset_set(ruleset)
    data, source = read_input(request)
    decision = decide_all(parse_request_json(data, source), rules)
    if as_json:
        print_json(decision.to_dict())
    else:
        render_decision(decision)
    return EXIT_CODES[decision.verdict]


def register(app: typer.Typer) -> None:
    import typer

    def decide_command(
        request: str = typer.Argument(..., help="Request JSON file, or - for standard input."),
        ruleset: list[Path] | None = typer.Option(
            None,
            "--ruleset",
            help="Ruleset TOML; repeat for a set, most restrictive wins "
            "(default: the shipped set).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
    ) -> int:
        """Decide one transfer. Exit 0 allow, 10 license_required, 11 deny, 12 hold, 2 bad input."""
        return decide(request, ruleset, as_json)

    app.command("decide")(decide_command)
