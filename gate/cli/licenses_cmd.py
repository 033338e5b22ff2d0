"""`gate licenses add|list|show|revoke`: BIS licenses on record."""

from __future__ import annotations

from datetime import UTC, date

import typer

from gate.cli.output import print_json, stderr, stdout
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
from gate.store.db import Store

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
        today = _today(store)
        if until < today:
            stderr().print(
                f"warning: license {number} is already expired (valid until {until}, "
                f"today is {today}); recording it anyway",
                markup=False,
            )
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
    _print_license(record, today, as_json)


def _today(store: Store) -> date:
    return store.now().astimezone(UTC).date()


def _usage(record: licenses.LicenseRecord) -> str:
    return f"{record.transfers} of {record.max_transfers or 'unlimited'}"


def _license_dict(record: licenses.LicenseRecord, today: date) -> dict[str, object]:
    return {**record.to_dict(), "status": record.status_on(today)}


def _print_license(record: licenses.LicenseRecord, today: date, as_json: bool) -> None:
    if as_json:
        print_json(_license_dict(record, today))
        return
    fields(
        f"license {record.number}",
        [
            ("status", record.status_on(today)),
            ("recipient", record.recipient_id),
            ("models", record.models),
            ("destinations", record.destinations),
            ("valid", f"{record.valid_from or '...'} to {record.valid_until}"),
            ("conditions", record.conditions or "-"),
            ("transfers", _usage(record)),
            ("revoked", record.revoked_at),
        ],
    )


@licenses_app.command("list")
def licenses_list(
    recipient_id: str | None = typer.Option(None, "--recipient"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """List licenses, each with its status today (valid, expired, not yet valid, used up,
    revoked) and its transfers against its cap."""
    with cli_store(db) as store:
        records = licenses.list_all(store, recipient_id=recipient_id)
        today = _today(store)
    if as_json:
        print_json([_license_dict(r, today) for r in records])
        return
    table(
        "licenses",
        ["number", "status", "recipient", "models", "destinations", "valid", "transfers"],
        [
            (
                r.number,
                r.status_on(today),
                r.recipient_id,
                r.models,
                r.destinations,
                f"{r.valid_from or '...'} to {r.valid_until}",
                _usage(r),
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
        _print_license(licenses.get(store, number), _today(store), as_json)


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
