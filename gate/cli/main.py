"""The `gate` command: one place maps the gate's errors to messages and exit codes.

Exit codes: 0 success (and `allow`), 2 bad input, 3 not found, 4 bad credential, 5 store failure,
6 model source failure; `gate decide` adds 10 license_required, 11 deny, 12 hold.

Commands load lazily: `COMMANDS` names each top-level command, the module that registers it and
its one-line help, so `gate --help` lists them without importing any, and `gate decide FILE`
imports the decision modules only (not the server, the database or the crypto stacks). A test
checks that every line here matches the command its module registers.
"""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "decide": (
        "decide_cmd",
        "Decide one transfer. Exit 0 allow, 10 license_required, 11 deny, 12 hold, 2 bad input.",
    ),
    "demo": (
        "demo_cmd",
        "Run the gate end to end on a demo hub and show who got which weights, and why.",
    ),
    "serve": (
        "serve_cmd",
        "Serve models to the unmodified huggingface_hub client, deciding every transfer.",
    ),
    "report": ("audit_cmd", "Summarise decisions by verdict, basis, recipient and model."),
    "replay": (
        "audit_cmd",
        "Re-decide recorded requests under another ruleset; list what would change (read-only).",
    ),
    "estimate": (
        "estimate_cmd",
        "Estimate training compute and where it stands against the threshold.",
    ),
    "classify": ("estimate_cmd", "Training compute and publication status of a model, together."),
    "rules": ("rules_cmd", "Show or check rulesets."),
    "recipients": ("records_cmd", "Organisations that receive weights."),
    "licenses": ("licenses_cmd", "BIS licenses on record."),
    "models": ("models_cmd", "What the operator says about models."),
    "audit": ("audit_cmd", "The tamper-evident record of decisions."),
    "inquiries": ("inquiries_cmd", "Questions a hold asks, answers, review."),
    "declare": (
        "estimate_cmd",
        "Build and sign a compute declaration (DSSE, ECDSA P-256), or verify one.",
    ),
    "keys": ("keys_cmd", "Manage the gate's signing keys (ECDSA P-256)."),
    "screening": (
        "screening_cmd",
        "Restricted-party screening against the US Consolidated Screening List.",
    ),
    "config": ("config_cmd", "Show the effective settings and where each came from."),
}
"""Top-level command -> (module in gate.cli that registers it, one-line help)."""


class _Listed(TyperCommand):
    """A command's name and help for `gate --help`, standing in until the command is used."""


class LazyGroup(TyperGroup):
    """The top-level group: a command's module is imported only when that command runs."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*COMMANDS, *self.commands]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = self.commands.get(cmd_name)
        if found is None and cmd_name in COMMANDS:
            return _Listed(name=cmd_name, help=COMMANDS[cmd_name][1])
        return found

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands:
            entry = COMMANDS.get(args[0])
            modules = [entry[0]] if entry else sorted({m for m, _ in COMMANDS.values()})
            for module in modules:
                self.load(module)
        return super().resolve_command(ctx, args)

    def load(self, module: str) -> None:
        """Import `gate.cli.<module>` and add the commands its `register` defines."""
        scratch = typer.Typer()
        scratch.callback()(lambda: None)  # a callback keeps even one command inside a group
        import_module(f"gate.cli.{module}").register(scratch)
        group = typer.main.get_command(scratch)
        assert isinstance(group, TyperGroup)
        for name, command in group.commands.items():
            self.commands.setdefault(name, command)


app = typer.Typer(
    name="gate",
    cls=LazyGroup,
    help="Weight Gate: decide, record and enforce transfers of AI model weights (ECCN 4E091).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's renderer alone costs more than the whole budget
)


@app.callback()
def _root(
    config: Path | None = typer.Option(
        None,
        "--config",
        help="TOML file of settings for this command (default: $GATE_CONFIG).",
    ),
) -> None:
    """Weight Gate: decide, record and enforce transfers of AI model weights (ECCN 4E091)."""
    if config is not None:
        from gate.settings import use_config_file

        use_config_file(config)


def run(argv: list[str]) -> int:
    """Run the CLI with `argv` and return its exit code; every GateError becomes a message."""
    from gate.errors import GateError

    command = _command()
    try:
        result = command.main(args=argv, prog_name="gate", standalone_mode=False)
    # typer 0.2x carries its own copy of click: its usage errors derive from TyperException,
    # not from the `click` package's classes.
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        _error("aborted")
        return 130
    except typer.TyperException as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _error(f"error: {exc}")
        return int(getattr(exc, "exit_code", 2))
    except GateError as exc:
        _error(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        if "gate.settings" in sys.modules:
            sys.modules["gate.settings"].use_config_file(None)
    return result if isinstance(result, int) else 0


_built: list[Any] = []


def _command() -> Any:
    """The click group, built once per process (commands it loaded stay loaded)."""
    if not _built:
        _built.append(typer.main.get_command(app))
    return _built[0]


def _error(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
