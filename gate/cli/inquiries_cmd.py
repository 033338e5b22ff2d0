"""`gate inquiries list|show|answer|approve|reject`: the duty to inquire, for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
from gate.cli.screening_cmd import screen_after_change
from gate.core.questions import Question
from gate.errors import InputError
from gate.store import inquiries, recipients
from gate.store.inquiry_record import InquiryRecord
from gate.store.recipients import RecipientRecord

inquiries_app = typer.Typer(help="Questions a hold asks, answers, review.", no_args_is_help=True)


def _print(
    record: InquiryRecord,
    as_json: bool,
    answers: dict[str, Any] | None = None,
    version: int | None = None,
) -> None:
    """The inquiry; `answers`/`version`: an older version of the answers instead of the latest."""
    data = record.to_dict()
    if answers is not None:
        data["answers"], data["shown_version"] = answers, version
    if as_json:
        print_json(data)
        return
    if answers is None:
        answers, version = dict(record.answers or {}), record.answers_version
    items: list[tuple[str, Any]] = [
        ("recipient", record.recipient_id),
        ("model", record.repo_id),
        ("status", record.status),
        ("opened", record.opened_at),
        (
            "answers version",
            "-"
            if version is None
            else f"{version} of {record.answers_version}"
            + (
                " (changed after the first submission)" if (record.answers_version or 0) > 1 else ""
            ),
        ),
    ]
    for q in data["questions"]:
        answer = answers.get(q["id"], "(not answered)")
        items.append((q["label"], json.dumps(answer) if not isinstance(answer, str) else answer))
    if record.reviewed_by:
        items += [
            ("reviewed by", record.reviewed_by),
            ("reviewed version", record.reviewed_version),
            ("note", record.review_note),
        ]
    fields(f"inquiry {record.id}", items)


@inquiries_app.command("list")
def inquiries_list(
    status: str | None = typer.Option(None, "--status", help="open|answered|completed|rejected"),
    recipient_id: str | None = typer.Option(None, "--recipient"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """List inquiries."""
    if status is not None and status not in ("open", "answered", "completed", "rejected"):
        raise InputError("status", "expected open, answered, completed or rejected")
    with cli_store(db) as store:
        records = inquiries.list_all(store, status=status, recipient_id=recipient_id)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table(
        "inquiries",
        ["id", "recipient", "model", "status", "questions", "opened"],
        [(r.id, r.recipient_id, r.repo_id, r.status, r.questions, r.opened_at) for r in records],
    )


VERSION_OPTION = typer.Option(
    None, "--version", min=1, help="A version of the answers (default: the latest)."
)


@inquiries_app.command("show")
def inquiries_show(
    inquiry_id: str = typer.Argument(..., metavar="ID"),
    version: int | None = VERSION_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Show an inquiry: its questions and answers, with the answers' version."""
    with cli_store(db) as store:
        record = inquiries.get(store, inquiry_id)
        older = None if version is None else inquiries.answers_version(store, inquiry_id, version)
    _print(record, as_json, older, version)


@inquiries_app.command("answer")
def inquiries_answer(
    inquiry_id: str = typer.Argument(..., metavar="ID"),
    answers_file: Path | None = typer.Option(
        None, "--answers", help="JSON file of answers keyed by question id."
    ),
    hq: str | None = typer.Option(None, "--hq", help="recipient_headquarters"),
    parent: str | None = typer.Option(None, "--parent", help="ultimate_parent name"),
    parent_hq: str | None = typer.Option(None, "--parent-hq"),
    no_parent: bool = typer.Option(False, "--no-parent", help="ultimate_parent: none"),
    destination: str | None = typer.Option(None, "--destination"),
    export_to: list[str] | None = typer.Option(
        None, "--export-destination", help="An intended export destination (repeat)."
    ),
    no_export: bool = typer.Option(False, "--no-export", help="No export intended."),
    end_use: str | None = typer.Option(None, "--end-use"),
    acknowledge: bool | None = typer.Option(
        None, "--acknowledge/--no-acknowledge", help="license_obligation_acknowledged"
    ),
    attestation_until: str | None = typer.Option(None, "--attestation-until"),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Record the recipient's answers (from options or a JSON file)."""
    answers: dict[str, Any] = {}
    if answers_file is not None:
        try:
            loaded = json.loads(answers_file.read_text("utf-8"))
        except OSError as exc:
            raise InputError("answers", f"cannot read {answers_file}: {exc.strerror}") from None
        except ValueError as exc:
            raise InputError("answers", f"{answers_file} is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise InputError("answers", "expected a JSON object keyed by question id")
        answers.update(loaded)
    if hq is not None:
        answers[Question.RECIPIENT_HEADQUARTERS.value] = hq
    if no_parent:
        answers[Question.ULTIMATE_PARENT.value] = "none"
    elif parent is not None:
        answers[Question.ULTIMATE_PARENT.value] = {"name": parent, "headquarters": parent_hq}
    if destination is not None:
        answers[Question.DESTINATION.value] = destination
    if export_to or no_export:
        answers[Question.EXPORT_DESTINATIONS.value] = list(export_to or [])
    if end_use is not None:
        answers[Question.END_USE.value] = end_use
    if acknowledge is not None:
        answers[Question.LICENSE_OBLIGATION_ACKNOWLEDGED.value] = acknowledge
    if attestation_until is not None:
        day = parse_date(attestation_until, "attestation-until")
        answers[Question.SECURITY_ATTESTATION.value] = {"valid_until": str(day)}
    with cli_store(db) as store:
        record = inquiries.answer(store, inquiry_id, answers, by=actor(by))
    _print(record, as_json)


def _screened_fields(record: RecipientRecord) -> tuple[str | None, ...]:
    """What screening reads of a recipient: its name and headquarters, its parent's."""
    return (
        record.name,
        record.headquarters,
        record.parent_kind,
        record.parent_name,
        record.parent_headquarters,
    )


def _review(
    inquiry_id: str,
    note: str,
    by: str | None,
    db: str | None,
    approve: bool,
    version: int | None,
    as_json: bool,
) -> None:
    with cli_store(db) as store:
        who = inquiries.get(store, inquiry_id).recipient_id
        before = _screened_fields(recipients.get(store, who))
        record = inquiries.review(
            store, inquiry_id, approve=approve, reviewer=actor(by), note=note, version=version
        )
        if _screened_fields(recipients.get(store, who)) != before:
            # The approved answers changed the recipient (name, headquarters, parent): screen
            # it again, as `gate recipients update` does, before its next download.
            screen_after_change(store, who, actor(by))
    if as_json:
        print_json(record.to_dict())
        return
    out = stdout()
    out.print(
        f"inquiry {record.id}: {record.status} (answers version {record.reviewed_version})",
        markup=False,
    )
    if approve and not record.recipient_changes:
        out.print(f"recipient {record.recipient_id}: record unchanged", markup=False)
    for name, change in record.recipient_changes.items():
        before_text, after_text = json.dumps(change["from"]), json.dumps(change["to"])
        out.print(
            f"recipient {record.recipient_id}: {name} {before_text} -> {after_text}",
            markup=False,
        )


@inquiries_app.command("approve")
def inquiries_approve(
    inquiry_id: str = typer.Argument(..., metavar="ID"),
    note: str = typer.Option(..., "--note"),
    version: int | None = typer.Option(
        None,
        "--version",
        min=1,
        help="The answers version you reviewed (required once the answers changed).",
    ),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Approve exactly the answers you reviewed: they become the recipient's facts (printed
    field by field); the inquiry is completed. Refused when the answers changed since."""
    _review(inquiry_id, note, by, db, True, version, as_json)


@inquiries_app.command("reject")
def inquiries_reject(
    inquiry_id: str = typer.Argument(..., metavar="ID"),
    note: str = typer.Option(..., "--note"),
    version: int | None = typer.Option(
        None, "--version", min=1, help="The answers version you reviewed."
    ),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Reject the answers; the next hold opens a new inquiry."""
    _review(inquiry_id, note, by, db, False, version, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(inquiries_app, name="inquiries")
