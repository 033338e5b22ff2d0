"""`gate screening ...`: import the restricted-party list, see results, and review hits.

`import` records a version of the US Consolidated Screening List (JSON or CSV as trade.gov
publishes it) and screens every recipient again; `list`/`show` the results; `review` is the
officer's word on a hit (audited with who and why); `status` says whether screening is on and how
old the list is. `gate recipients add/update` screen the recipient through `screen_after_change`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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
from gate.errors import InputError
from gate.screening.lists import parse_file
from gate.settings import Settings
from gate.store import screening, screening_lists, screening_runs
from gate.store.db import Store

screening_app = typer.Typer(
    help="Restricted-party screening against the US Consolidated Screening List.",
    no_args_is_help=True,
)


def threshold() -> float:
    """The match threshold: GATE_SCREENING_THRESHOLD (default 88)."""
    return Settings().screening_threshold


def screen_after_change(store: Store, recipient_id: str, by: str) -> None:
    """Screen a recipient just added or changed; say on stderr when a party needs review."""
    results = screening_runs.screen_recipient(store, recipient_id, actor=by, threshold=threshold())
    if results is None:
        return
    for result in results:
        if result.status != "clear":
            stderr().print(
                f"screening: {result.party} {result.party_name!r} {result.status.replace('_', ' ')}"
                f" with {result.matched_name!r} (score {result.score}); see gate screening show"
                f" {result.id}",
                markup=False,
            )


@screening_app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., metavar="FILE", help="consolidated.json or .csv"),
    list_date: str | None = typer.Option(
        None, "--list-date", help="The list's date YYYY-MM-DD (default: from the file)."
    ),
    source: str | None = typer.Option(None, "--source", help="Name of the list as recorded."),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Import a version of the list and screen every recipient against it."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError("FILE", f"cannot read {file}: {exc.strerror or exc}") from None
    parsed = parse_file(file.name, data)
    day = parse_date(list_date, "list-date")
    with cli_store(db) as store:
        result = screening_runs.import_list(
            store,
            parsed,
            actor=actor(by),
            list_date=day,
            source=source,
            file_name=file.name,
            threshold=threshold(),
        )
    if as_json:
        print_json(
            {
                "created": result.created,
                "list": result.version.to_dict(),
                "added": result.added,
                "changed": result.changed,
                "removed": result.removed,
                "screened": result.screened,
            }
        )
        return
    v = result.version
    if not result.created:
        stdout().print(
            f"unchanged: the list is already version {v.id} ({v.entry_count} entries, "
            f"dated {v.list_date}); nothing imported",
            markup=False,
        )
        return
    stdout().print(
        f"imported list version {v.id}: {v.entry_count} entries dated {v.list_date} "
        f"({result.added} added, {result.changed} changed, {result.removed} removed); "
        f"{result.screened} recipients screened",
        markup=False,
    )


@screening_app.command("list")
def list_cmd(
    status: str | None = typer.Option(
        None, "--status", help="Only results with this status (clear, possible_match, match)."
    ),
    recipient: str | None = typer.Option(None, "--recipient", help="Only this recipient."),
    history: bool = typer.Option(False, "--all", help="Include superseded results."),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """List screening results (current ones unless --all)."""
    if status is not None and status not in ("clear", "possible_match", "match"):
        raise InputError("status", "expected clear, possible_match or match")
    with cli_store(db) as store:
        rows = screening.list_results(
            store, recipient_id=recipient, status=status, include_history=history
        )
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table(
        "screening results",
        ["id", "recipient", "party", "name", "status", "score", "matched", "list", "reviewed by"],
        [
            (
                r.id,
                r.recipient_id,
                r.party,
                r.party_name,
                r.status,
                r.score,
                r.matched_name,
                r.list_id,
                r.reviewed_by,
            )
            for r in rows
        ],
    )


def _result_id(text: str) -> int:
    if not text.isdigit():
        raise InputError("ID", f"expected a result number, got {text!r}")
    return int(text)


@screening_app.command("show")
def show_cmd(
    result_id: str = typer.Argument(..., metavar="ID"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Show one result and the list entry it matched."""
    with cli_store(db) as store:
        result, entry = screening.get_result(store, _result_id(result_id))
    if as_json:
        print_json({**result.to_dict(), "entry": None if entry is None else entry.to_dict()})
        return
    items: list[tuple[str, object]] = [
        (key, value) for key, value in result.to_dict().items() if key != "carried_from"
    ]
    if entry is not None:
        items += [
            ("entry name", entry.name),
            ("entry aliases", entry.alt_names),
            ("entry countries", entry.countries),
            ("entry source", entry.source),
            ("entry programs", entry.programs),
            ("entry addresses", entry.addresses),
            ("entry listed", entry.start_date),
            ("entry notice", entry.federal_register_notice),
        ]
    fields(f"screening result {result.id}", items)


@screening_app.command("review")
def review_cmd(
    result_id: str = typer.Argument(..., metavar="ID"),
    clear: bool = typer.Option(False, "--clear", help="Not the listed party."),
    confirm: bool = typer.Option(False, "--confirm", help="The listed party: a confirmed match."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit chain)."),
    officer: str | None = typer.Option(None, "--officer", help="Who (default: the login name)."),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Review a hit: --clear or --confirm, with --reason."""
    if clear == confirm:
        raise InputError("review", "give exactly one of --clear or --confirm")
    with cli_store(db) as store:
        result = screening.review(
            store,
            _result_id(result_id),
            decision="clear" if clear else "confirm",
            reason=reason,
            officer=actor(officer),
        )
    if as_json:
        print_json(result.to_dict())
        return
    stdout().print(
        f"result {result.id} ({result.recipient_id}, {result.party} {result.party_name!r}): "
        f"{result.status}, by {result.reviewed_by}",
        markup=False,
    )


@screening_app.command("status")
def status_cmd(
    max_age_days: int | None = typer.Option(
        None,
        "--max-age-days",
        min=0,
        help="Older lists are stale (default: GATE_SCREENING_MAX_AGE_DAYS, 30).",
    ),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Whether screening is on and how old the list is."""
    with cli_store(db) as store:
        age = Settings().screening_max_age_days if max_age_days is None else max_age_days
        current = screening_lists.state(store, datetime.now(UTC).date(), max_age_days=age)
    if as_json:
        print_json(current.to_dict())
        return
    if current.list is None:
        stdout().print("screening: off (no list imported)", markup=False)
    else:
        v = current.list
        stdout().print(
            f"screening: on, list version {v.id} dated {v.list_date} ({current.age_days} days "
            f"old), {v.entry_count} entries, imported {v.imported_at:%Y-%m-%d %H:%M} by "
            f"{v.imported_by}",
            markup=False,
        )
    warning = current.warning()
    if warning is not None:
        stderr().print(f"warning: {warning}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(screening_app, name="screening")
