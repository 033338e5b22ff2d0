"""`gate recipients ...`, `gate licenses ...`, `gate models ...`: the records an operator keeps.

Registering this module also registers the audit (`gate audit`, `report`, `replay`) and
inquiry (`gate inquiries`) commands, which live in their own modules.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import typer

from gate.cli import screening_cmd
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
from gate.errors import InputError
from gate.store import credentials, recipients

recipients_app = typer.Typer(help="Organisations that receive weights.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens of a recipient (shown once).", no_args_is_help=True)


def _recipient_fields(
    *,
    name: str | None,
    hq: str | None,
    parent: str | None,
    parent_hq: str | None,
    no_parent: bool,
    parent_unknown: bool,
    destinations: list[str] | None,
    default_destination: str | None,
    attestation_until: str | None,
    attestation_from: str | None,
    attestation_ref: str | None,
    clear_attestation: bool,
    contacts: list[str] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name is not None:
        out["name"] = name
    if hq is not None:
        out["headquarters"] = hq
    if sum([parent is not None, no_parent, parent_unknown]) > 1:
        raise InputError("parent", "give one of --parent, --no-parent, --parent-unknown")
    if parent is not None:
        if parent_hq is None:
            raise InputError("parent-hq", "--parent needs --parent-hq (the parent's headquarters)")
        out["parent"] = (parent, parent_hq)
    elif parent_hq is not None:
        raise InputError("parent-hq", "--parent-hq needs --parent")
    elif no_parent:
        out["parent"] = "self"
    elif parent_unknown:
        out["parent"] = None
    if destinations:
        out["destinations"] = destinations
    if default_destination is not None:
        out["default_destination"] = default_destination
    if clear_attestation:
        out["attestation"] = None
    elif attestation_until is not None:
        until = parse_date(attestation_until, "attestation-until")
        out["attestation"] = (
            until,
            parse_date(attestation_from, "attestation-from"),
            attestation_ref,
        )
    elif attestation_from is not None or attestation_ref is not None:
        raise InputError("attestation-until", "an attestation needs --attestation-until")
    if contacts:
        out["contacts"] = contacts
    return out


def _print_recipient(record: recipients.RecipientRecord, creds: list[Any], as_json: bool) -> None:
    data = record.to_dict()
    data["credentials"] = [c.to_dict() for c in creds]
    if as_json:
        print_json(data)
        return
    parent = data["ultimate_parent"]
    if isinstance(parent, dict):
        parent = f"{parent['name']} ({parent['headquarters']})"
    att = data["security_attestation"]
    fields(
        f"recipient {record.id}",
        [
            ("name", record.name),
            ("headquarters", record.headquarters or "unknown"),
            ("ultimate parent", parent or "unknown"),
            ("destinations", record.destinations),
            ("default destination", record.default_destination),
            (
                "security attestation",
                None
                if att is None
                else f"{att['valid_from'] or '...'} to {att['valid_until']} "
                f"{att['reference'] or ''}",
            ),
            ("contacts", record.contacts),
            ("credentials", [f"{c.id}{' (revoked)' if c.revoked_at else ''}" for c in creds]),
            ("removed", record.removed_at),
        ],
    )


_NAME = typer.Option(None, "--name", help="Organisation name.")
_HQ = typer.Option(None, "--hq", "--headquarters", help="Headquarters country.")
_PARENT = typer.Option(None, "--parent", help="Ultimate parent's name.")
_PARENT_HQ = typer.Option(None, "--parent-hq", help="Ultimate parent's headquarters.")
_NO_PARENT = typer.Option(False, "--no-parent", help="No parent: it is its own ultimate parent.")
_PARENT_UNKNOWN = typer.Option(False, "--parent-unknown", help="Ultimate parent not known.")
_DEST = typer.Option(None, "--destination", help="A destination it may receive in (repeat).")
_DEFAULT_DEST = typer.Option(None, "--default-destination", help="The default destination.")
_ATT_UNTIL = typer.Option(None, "--attestation-until", help="Security attestation valid until.")
_ATT_FROM = typer.Option(None, "--attestation-from", help="Security attestation valid from.")
_ATT_REF = typer.Option(None, "--attestation-ref", help="Reference of the attestation document.")
_CONTACT = typer.Option(None, "--contact", help="A contact (repeat).")


@recipients_app.command("add")
def recipients_add(
    recipient_id: str = typer.Argument(..., metavar="ID"),
    name: str = typer.Option(..., "--name", help="Organisation name."),
    hq: str | None = _HQ,
    parent: str | None = _PARENT,
    parent_hq: str | None = _PARENT_HQ,
    no_parent: bool = _NO_PARENT,
    destinations: list[str] | None = _DEST,
    default_destination: str | None = _DEFAULT_DEST,
    attestation_until: str | None = _ATT_UNTIL,
    attestation_from: str | None = _ATT_FROM,
    attestation_ref: str | None = _ATT_REF,
    contacts: list[str] | None = _CONTACT,
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Add a recipient (its ultimate parent stays unknown unless --parent or --no-parent)."""
    values = _recipient_fields(
        name=name,
        hq=hq,
        parent=parent,
        parent_hq=parent_hq,
        no_parent=no_parent,
        parent_unknown=False,
        destinations=destinations,
        default_destination=default_destination,
        attestation_until=attestation_until,
        attestation_from=attestation_from,
        attestation_ref=attestation_ref,
        clear_attestation=False,
        contacts=contacts,
    )
    with cli_store(db) as store:
        record = recipients.add(store, recipient_id, actor=actor(by), **values)
        screening_cmd.screen_after_change(store, record.id, actor(by))
    _print_recipient(record, [], as_json)


@recipients_app.command("update")
def recipients_update(
    recipient_id: str = typer.Argument(..., metavar="ID"),
    name: str | None = _NAME,
    hq: str | None = _HQ,
    parent: str | None = _PARENT,
    parent_hq: str | None = _PARENT_HQ,
    no_parent: bool = _NO_PARENT,
    parent_unknown: bool = _PARENT_UNKNOWN,
    destinations: list[str] | None = _DEST,
    default_destination: str | None = _DEFAULT_DEST,
    attestation_until: str | None = _ATT_UNTIL,
    attestation_from: str | None = _ATT_FROM,
    attestation_ref: str | None = _ATT_REF,
    clear_attestation: bool = typer.Option(False, "--clear-attestation"),
    contacts: list[str] | None = _CONTACT,
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Change a recipient; --destination replaces the list of destinations."""
    values = _recipient_fields(
        name=name,
        hq=hq,
        parent=parent,
        parent_hq=parent_hq,
        no_parent=no_parent,
        parent_unknown=parent_unknown,
        destinations=destinations,
        default_destination=default_destination,
        attestation_until=attestation_until,
        attestation_from=attestation_from,
        attestation_ref=attestation_ref,
        clear_attestation=clear_attestation,
        contacts=contacts,
    )
    with cli_store(db) as store:
        record = recipients.update_recipient(store, recipient_id, actor=actor(by), **values)
        screening_cmd.screen_after_change(store, record.id, actor(by))
        creds = credentials.list_for(store, recipient_id)
    _print_recipient(record, creds, as_json)


@recipients_app.command("list")
def recipients_list(
    include_removed: bool = typer.Option(False, "--all", help="Include removed recipients."),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """List recipients."""
    with cli_store(db) as store:
        records = recipients.list_all(store, include_removed=include_removed)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table(
        "recipients",
        ["id", "name", "hq", "ultimate parent", "destinations", "attestation until"],
        [
            (
                r.id,
                r.name,
                r.headquarters or "unknown",
                {"self": "none", "unknown": "unknown"}.get(
                    r.parent_kind, f"{r.parent_name} ({r.parent_headquarters})"
                ),
                r.destinations,
                r.attestation_valid_until,
            )
            for r in records
        ],
    )


@recipients_app.command("show")
def recipients_show(
    recipient_id: str = typer.Argument(..., metavar="ID"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Show one recipient and its credentials (never the tokens)."""
    with cli_store(db) as store:
        record = recipients.get(store, recipient_id)
        creds = credentials.list_for(store, recipient_id)
    _print_recipient(record, creds, as_json)


@recipients_app.command("remove")
def recipients_remove(
    recipient_id: str = typer.Argument(..., metavar="ID"),
    by: str | None = BY_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Remove a recipient: its tokens stop working; its records stay."""
    with cli_store(db) as store:
        recipients.remove(store, recipient_id, actor=actor(by))
    stdout().print(f"removed recipient {recipient_id}", markup=False)


@token_app.command("create")
def token_create(
    recipient_id: str = typer.Argument(..., metavar="RECIPIENT"),
    expires: str | None = typer.Option(None, "--expires", help="Expiry date YYYY-MM-DD (UTC)."),
    label: str | None = typer.Option(None, "--label"),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Create an API token. It is shown once and stored only as a hash."""
    day = parse_date(expires, "expires")
    expires_at = None if day is None else datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    with cli_store(db) as store:
        token, record = credentials.create_token(
            store, recipient_id, actor=actor(by), expires_at=expires_at, label=label
        )
    if as_json:
        print_json({**record.to_dict(), "token": token})
        return
    out = stdout()
    out.print(f"token for {recipient_id} (id {record.id}); it is shown only now:", markup=False)
    out.print(token, markup=False)


@token_app.command("revoke")
def token_revoke(
    credential_id: str = typer.Argument(..., metavar="CREDENTIAL_ID"),
    by: str | None = BY_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Revoke a token by its id (the part after `wg_`)."""
    with cli_store(db) as store:
        record = credentials.revoke(store, credential_id, actor=actor(by))
    stdout().print(f"revoked credential {record.id} of {record.recipient_id}", markup=False)


def register(app: typer.Typer) -> None:
    from gate.cli import audit_cmd, inquiries_cmd, licenses_cmd, models_cmd

    recipients_app.add_typer(token_app, name="token")
    app.add_typer(recipients_app, name="recipients")
    licenses_cmd.register(app)
    models_cmd.register(app)
    audit_cmd.register(app)
    inquiries_cmd.register(app)
