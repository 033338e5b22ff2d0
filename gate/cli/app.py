"""The typer application behind `gate`: a group whose commands' modules load only when used.

`gate.cli.main.run` sends here every command line its fast path for `gate decide` does not
take; usage errors (unknown option, missing argument) become click's message and exit code 2.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from gate.cli.commands import COMMANDS


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


def invoke(argv: list[str]) -> int:
    """Run `argv` through typer; its usage errors become their message and exit code.

    GateErrors pass through to the caller, which maps them (`gate.cli.main.run`).
    """
    try:
        result = _command().main(args=argv, prog_name="gate", standalone_mode=False)
    # typer 0.2x carries its own copy of click: its usage errors derive from TyperException,
    # not from the `click` package's classes.
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        from gate.cli.output import error_line

        error_line("aborted")
        return 130
    except typer.TyperException as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            from gate.cli.output import error_line

            error_line(f"error: {exc}")
        return int(getattr(exc, "exit_code", 2))
    return result if isinstance(result, int) else 0


_built: list[Any] = []


def _command() -> Any:
    """The click group, built once per process (commands it loaded stay loaded)."""
    if not _built:
        _built.append(typer.main.get_command(app))
    return _built[0]
