"""The `gate` command: one place maps the gate's errors to messages and exit codes.

Exit codes: 0 success (and `allow`), 2 bad input, 3 not found, 4 bad credential, 5 store failure,
6 model source failure; `gate decide` adds 10 license_required, 11 deny, 12 hold.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from gate.errors import GateError

app = typer.Typer(
    name="gate",
    help="Weight Gate: decide, record and enforce transfers of AI model weights (ECCN 4E091).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Each area keeps its commands in its own module; they register here, in one list.
    # Imported here, not at the top, so `gate --help` does not load the server or the store.
    from gate.cli import (
        decide_cmd,
        demo_cmd,
        estimate_cmd,
        keys_cmd,
        records_cmd,
        rules_cmd,
        screening_cmd,
        serve_cmd,
    )

    for module in (
        decide_cmd,
        rules_cmd,
        demo_cmd,
        serve_cmd,
        records_cmd,
        estimate_cmd,
        keys_cmd,
        screening_cmd,
    ):
        module.register(app)


def run(argv: list[str]) -> int:
    """Run the CLI with `argv` and return its exit code; every GateError becomes a message."""
    _register_once()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="gate", standalone_mode=False)
    # typer 0.2x carries its own copy of click: its usage errors derive from TyperException,
    # not from the `click` package's classes.
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        return 130
    except typer.TyperException as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc}", markup=False)
        return int(getattr(exc, "exit_code", 2))
    except GateError as exc:
        err.print(f"error: {exc}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


_registered = False


def _register_once() -> None:
    global _registered
    if not _registered:
        _register()
        _registered = True


def main() -> None:
    sys.exit(run(sys.argv[1:]))
