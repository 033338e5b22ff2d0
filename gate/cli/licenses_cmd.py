"""`gate licenses add|list|show|revoke`: BIS licenses on record."""

from __future__ import annotations

import typer

from gate.cli.output import print_json, stdout
from gate.cli.records_common import (
    BY_OPTION,
    DB_OPTION,
    JSON_OPTION,
    actor,
    cli_store,
    fields,
    parse_date,
    table,
)
from gate.cli.repo_check import FORCE_OPTION, match_repo
from gate.store import licenses

licenses_app = typer.Typer(help="BIS licenses on record.", no_args_is_help=True)


@licenses_app.command("add")
def licenses_add(
    number: str = typer.Argument(..., metavar="NUMBER"),
    recipient_id: str = typer.Option(..., "--recipient"),
    model: list[str] = typer.Option(..., "--model", help="A repository id, or 4E091 (repeat)."),
    destination: list[str] = typer.Option(..., "--destination", help="Destination (repeat)."),
    valid_until: str = typer.Option(..., "--valid-until"),
    valid_from: str | None = typer.Option(None, "--valid-from"),
    conditions: str = typer.Option("", "--conditions"),
    max_transfers: int | None = typer.Option(
        None,
        "--max-transfers",
        help="Cap on transfers: each parameter file sent beyond its header counts once.",
    ),
    force: bool = FORCE_OPTION,
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Record a BIS license. Repository names match as the hub matches them (any case)."""
    until = parse_date(valid_until, "valid-until")
    assert until is not None
    matches = [match_repo(m, force=force) for m in model if m.strip().upper() != licenses.ECCN]
    with cli_store(db) as store:
        record = licenses.add(
            store,
            number,
            recipient_id=recipient_id,
            models=model,
            destinations=destination,
            valid_until=until,
            valid_from=parse_date(valid_from, "valid-from"),
            conditions=conditions,
            max_transfers=max_transfers,
            actor=actor(by),
        )
    if not as_json:
        for matched in matches:
            stdout().print(str(matched), markup=False)
    _print_license(record, as_json)


def _print_license(record: licenses.LicenseRecord, as_json: bool) -> None:
    if as_json:
        print_json(record.to_dict())
        return
    fields(
        f"license {record.number}",
        [
            ("recipient", record.recipient_id),
            ("models", record.models),
            ("destinations", record.destinations),
            ("valid", f"{record.valid_from or '...'} to {record.valid_until}"),
            ("conditions", record.conditions or "-"),
            ("transfers", f"{record.transfers} of {record.max_transfers or 'unlimited'}"),
            ("revoked", record.revoked_at),
        ],
    )


@licenses_app.command("list")
def licenses_list(
    recipient_id: str | None = typer.Option(None, "--recipient"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """List licenses."""
    with cli_store(db) as store:
        records = licenses.list_all(store, recipient_id=recipient_id)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table(
        "licenses",
        ["number", "recipient", "models", "destinations", "valid until", "transfers", "revoked"],
        [
            (
                r.number,
                r.recipient_id,
                r.models,
                r.destinations,
                r.valid_until,
                f"{r.transfers}/{r.max_transfers or '-'}",
                r.revoked_at,
            )
            for r in records
        ],
    )


@licenses_app.command("show")
def licenses_show(
    number: str = typer.Argument(..., metavar="NUMBER"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Show one license."""
    with cli_store(db) as store:
        _print_license(licenses.get(store, number), as_json)


@licenses_app.command("revoke")
def licenses_revoke(
    number: str = typer.Argument(..., metavar="NUMBER"),
    reason: str = typer.Option(..., "--reason"),
    by: str | None = BY_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Revoke a license: later decisions no longer use it."""
    with cli_store(db) as store:
        licenses.revoke(store, number, reason=reason, actor=actor(by))
    stdout().print(f"revoked license {number}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(licenses_app, name="licenses")
