"""The `gate` command: one place maps the gate's errors to messages and exit codes.

Exit codes: 0 success (and `allow`), 2 bad input, 3 not found, 4 bad credential, 5 store failure,
6 model source failure; `gate decide` adds 10 license_required, 11 deny, 12 hold.

Commands load lazily: `gate.cli.commands.COMMANDS` names each top-level command, the module that
registers it and its one-line help, so `gate --help` lists them without importing any. The
common forms of `gate decide` (`FILE` or `-`, `--json`, `--ruleset PATH` repeated) take a fast
path that imports neither typer nor the server, database or crypto stacks; every other command
line, `gate decide --help` and usage errors included, goes to the typer application
(`gate.cli.app`), which answers it exactly as before.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gate.cli.commands import COMMANDS

__all__ = ["COMMANDS", "main", "run"]


def run(argv: list[str]) -> int:
    """Run the CLI with `argv` and return its exit code; every GateError becomes a message."""
    from gate.errors import GateError

    try:
        fast = _decide_args(argv)
        if fast is not None:
            from gate.cli.decide_cmd import decide

            return decide(*fast)
        from gate.cli.app import invoke

        return invoke(argv)
    except GateError as exc:
        from gate.cli.output import error_line

        error_line(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        if "gate.settings" in sys.modules:
            sys.modules["gate.settings"].use_config_file(None)


def _decide_args(argv: list[str]) -> tuple[str, list[Path], bool] | None:
    """(request, rulesets, as_json) for a plain `gate decide` line; None for anything else.

    Takes only what click would read the same way; an option it does not know, a value that
    looks like an option, a missing or second argument: None, and typer answers.
    """
    if not argv or argv[0] != "decide":
        return None
    request: str | None = None
    rulesets: list[Path] = []
    as_json = False
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "--json":
            as_json = True
        elif arg == "--ruleset" or arg.startswith("--ruleset="):
            value = arg.partition("=")[2] if "=" in arg else next(rest, None)
            if not value or value.startswith("-"):
                return None
            rulesets.append(Path(value))
        elif (arg == "-" or not arg.startswith("-")) and request is None:
            request = arg
        else:
            return None
    return None if request is None else (request, rulesets, as_json)


def __getattr__(name: str) -> Any:
    # The typer application and its group class, for code that inspects them.
    if name in ("app", "LazyGroup"):
        from gate.cli import app

        return getattr(app, name)
    raise AttributeError(name)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
