"""`gate officers add|list`: the people who may sign in to the compliance console."""

from __future__ import annotations

import sys

import typer

from gate.cli.output import print_json, stdout
from gate.cli.records_common import BY_OPTION, DB_OPTION, JSON_OPTION, actor, cli_store, table
from gate.errors import InputError

officers_app = typer.Typer(
    help="Console officers (officer: acts; viewer: reads).", no_args_is_help=True
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise InputError("password", "no terminal to prompt on: use --password-stdin")
    first = typer.prompt("Password (set once)", hide_input=True)
    if typer.prompt("Repeat it", hide_input=True) != first:
        raise InputError("password", "the two entries differ")
    return str(first)


@officers_app.command("add")
def officers_add(
    name: str = typer.Argument(..., help="Sign-in name."),
    role: str = typer.Option(..., "--role", help="officer (acts) or viewer (reads)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Add an officer; the password is set once (at least 12 characters), stored as argon2id."""
    from gate.store import officers

    if role not in officers.ROLES:
        raise InputError("role", f"expected officer or viewer, got {role!r}")
    password = _read_password(password_stdin)
    officers.check_password(password)
    with cli_store(db) as store:
        added = officers.add(store, name, role=role, password=password, actor=actor(by))
    if as_json:
        print_json(added.to_dict())
    else:
        stdout().print(f"added {added.role} {added.name}", markup=False)


@officers_app.command("disable")
def officers_disable(
    name: str = typer.Argument(..., help="Sign-in name."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit chain)."),
    by: str | None = BY_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Stop an officer from signing in; their sessions end at once."""
    from gate.store import officers

    with cli_store(db) as store:
        officers.disable(store, name, actor=actor(by), reason=reason)
    stdout().print(f"disabled {name}", markup=False)


@officers_app.command("list")
def officers_list(as_json: bool = JSON_OPTION, db: str | None = DB_OPTION) -> None:
    """List officers (never their password hashes)."""
    from gate.store import officers

    with cli_store(db) as store:
        found = officers.list_all(store)
    if as_json:
        print_json([o.to_dict() for o in found])
        return
    table(
        "Console officers",
        ["name", "role", "added by", "added", "disabled"],
        [[o.name, o.role, o.created_by, o.created_at, o.disabled_at] for o in found],
    )


def register(app: typer.Typer) -> None:
    app.add_typer(officers_app, name="officers")
