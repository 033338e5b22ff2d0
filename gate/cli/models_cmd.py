"""`gate models classify|designate|trained-for|show`: the operator's word on models."""

from __future__ import annotations

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
    table,
)
from gate.cli.repo_check import FORCE_OPTION, match_repo
from gate.core.values import ComputeInterval
from gate.errors import InputError
from gate.store import models

models_app = typer.Typer(help="What the operator says about models.", no_args_is_help=True)


def _operations(text: str | None, field: str) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(
            field, f"expected a number of operations like 3.8e25, got {text!r}"
        ) from None


@models_app.command("classify")
def models_classify(
    repo: str = typer.Argument(..., metavar="REPO"),
    reason: str = typer.Option(..., "--reason", help="Why (goes to the record)."),
    commit: str | None = typer.Option(None, "--commit", help="Only this commit."),
    published: bool | None = typer.Option(None, "--published/--not-published"),
    evidence: str | None = typer.Option(None, "--publication-evidence"),
    compute: str | None = typer.Option(None, "--compute", help="Training operations, exact."),
    compute_low: str | None = typer.Option(None, "--compute-low"),
    compute_high: str | None = typer.Option(None, "--compute-high"),
    less_capable: bool | None = typer.Option(
        None, "--less-capable/--not-less-capable", help="748.3(f): below the published frontier."
    ),
    force: bool = FORCE_OPTION,
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Override a model's classification (publication, compute, 748.3(f)) with a reason."""
    interval = None
    exact = _operations(compute, "compute")
    low, high = _operations(compute_low, "compute-low"), _operations(compute_high, "compute-high")
    if exact is not None and (low is not None or high is not None):
        raise InputError("compute", "give --compute or --compute-low/--compute-high, not both")
    if exact is not None:
        interval = ComputeInterval.exactly(exact, "recorded")
    elif low is not None or high is not None:
        interval = ComputeInterval(low, high, None, "recorded")
    matched = match_repo(repo, force=force)
    with cli_store(db) as store:
        rows = models.classify(
            store,
            repo,
            actor=actor(by),
            reason=reason,
            commit=commit,
            published=published,
            publication_evidence=evidence,
            compute=interval,
            less_capable=less_capable,
        )
    if as_json:
        print_json(rows)
        return
    stdout().print(str(matched), markup=False)
    for row in rows:
        stdout().print(f"{matched.key}: {row['field']} = {row['value']} ({reason})", markup=False)


@models_app.command("designate")
def models_designate(
    repo: str = typer.Argument(..., metavar="REPO"),
    reason: str = typer.Option(..., "--reason"),
    source: str | None = typer.Option(None, "--source", help="E.g. the is-informed letter."),
    remove: bool = typer.Option(False, "--remove", help="Withdraw the designation."),
    force: bool = FORCE_OPTION,
    by: str | None = BY_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Designate a model as controlled whatever its compute (or --remove the designation).
    The name matches as the hub matches it (any case)."""
    matched = match_repo(repo, force=force or remove)
    stdout().print(str(matched), markup=False)
    with cli_store(db) as store:
        if remove:
            models.undesignate(store, repo, reason=reason, actor=actor(by))
        else:
            models.designate(store, repo, reason=reason, source=source, actor=actor(by))
    done = "designation removed" if remove else "designated"
    stdout().print(f"{matched.key}: {done}", markup=False)


@models_app.command("trained-for")
def models_trained_for(
    repo: str = typer.Argument(..., metavar="REPO"),
    recipient_id: str = typer.Argument(..., metavar="RECIPIENT"),
    force: bool = FORCE_OPTION,
    by: str | None = BY_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Record that you trained REPO for RECIPIENT on your infrastructure (IaaS red flag)."""
    matched = match_repo(repo, force=force)
    with cli_store(db) as store:
        models.set_trained_for(store, repo, recipient_id, actor=actor(by))
    stdout().print(str(matched), markup=False)
    stdout().print(f"{matched.key}: trained for {recipient_id}", markup=False)


def _operations_text(value: float | None) -> str:
    return "?" if value is None else f"{value:.3g}"


def _classification_row(record: dict[str, Any]) -> tuple[str, ...]:
    facts = record["facts"]
    compute = facts.get("training_compute") or {}
    published = {True: "yes", False: "no"}.get(facts.get("published"), "unknown")
    return (
        record["commit"],
        f"{_operations_text(compute.get('low'))} .. {_operations_text(compute.get('high'))}",
        str(compute.get("method", "unknown")),
        published,
        facts.get("publication_evidence") or "-",
        str(record["updated_at"]),
    )


@models_app.command("show")
def models_show(
    repo: str = typer.Argument(..., metavar="REPO"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Everything on record for a model."""
    with cli_store(db) as store:
        data = models.show(store, repo)
    if as_json:
        print_json(data)
        return
    designation = data["designation"]
    fields(
        f"model {data['repo_id']} (records key; asked as {repo})",
        [
            ("designated", "no" if designation is None else designation["reason"]),
            ("classified commits", [c["commit"] for c in data["classifications"]]),
            ("trained for", [t["recipient_id"] for t in data["trained_for"]]),
            ("declarations", [d["id"] for d in data["declarations"]]),
        ],
    )
    if data["classifications"]:
        table(
            "classifications (the classifiers' facts per commit, before overrides)",
            ["commit", "training compute", "method", "published", "publication evidence", "when"],
            [_classification_row(c) for c in data["classifications"]],
        )
    if data["overrides"]:
        table(
            "operator overrides",
            ["field", "value", "commit", "by", "when", "why"],
            [
                (
                    o["field"],
                    o["value"],
                    o["commit"] or "all",
                    o["set_by"],
                    o["set_at"],
                    o["reason"],
                )
                for o in data["overrides"]
            ],
        )


def register(app: typer.Typer) -> None:
    from gate.cli.models_import_cmd import add_store_commands

    add_store_commands(models_app)  # `models import|list`: the store side, in their own module
    app.add_typer(models_app, name="models")
