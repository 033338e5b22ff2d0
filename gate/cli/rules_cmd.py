"""`gate rules show|check`: read the ruleset a decision uses, or validate an operator's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from gate.cli.output import print_json, stdout
from gate.core.ruleset import Ruleset
from gate.core.values import Group
from gate.rules.countries import country_name
from gate.rules.loader import load_ruleset, resolve_ruleset

rules_app = typer.Typer(help="Show or check rulesets.", no_args_is_help=True)


def ruleset_summary(rules: Ruleset) -> dict[str, Any]:
    return {
        "id": rules.id,
        "sha256": rules.sha256,
        "title": rules.title,
        "status_note": rules.status_note,
        "dates": {
            "published": rules.published.isoformat(),
            "effective": rules.effective.isoformat(),
            "compliance": rules.compliance.isoformat(),
            "security_compliance": rules.security_compliance.isoformat(),
            "in_force_until": rules.in_force_until.isoformat() if rules.in_force_until else None,
        },
        "threshold_operations": rules.threshold_operations,
        "published_frontier_operations": rules.published_frontier_operations,
        "groups": {
            group.value: {
                "tier": rules.group_labels[group].tier,
                "article_group": rules.group_labels[group].article_group,
                "countries": sorted(members) if members is not None else "every other country",
            }
            for group, members in (
                (Group.ALLIED, rules.allied),
                (Group.EMBARGOED, rules.embargoed),
                (Group.OTHER, None),
            )
        },
        "provisions": {
            k: {"citation": v.citation, "title": v.title} for k, v in rules.provisions.items()
        },
        "parameter_files": {
            "patterns": list(rules.parameter_patterns),
            "exceptions": list(rules.non_parameter_patterns),
        },
        "designated": [{"repo_id": d.repo_id, "reason": d.reason} for d in rules.designated],
        "open_licenses": [{"id": o.id, "note": o.note} for o in rules.open_licenses],
        "sources": [{"title": s.title, "url": s.url} for s in rules.sources],
    }


@rules_app.command("show")
def show(
    ruleset: Path | None = typer.Option(None, "--ruleset", help="Ruleset TOML (default: shipped)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Print a ruleset readably: dates, threshold, country groups, provisions, file patterns."""
    rules = resolve_ruleset(ruleset)
    if as_json:
        print_json(ruleset_summary(rules))
        return
    out = stdout()
    out.print(f"[bold]{escape(rules.title)}[/]")
    out.print(f"id {rules.id}  sha256 {rules.sha256}")
    out.print(
        f"published {rules.published}  effective {rules.effective}  compliance {rules.compliance}"
        f"  security paragraphs {rules.security_compliance}"
        + (f"  in force until {rules.in_force_until}" if rules.in_force_until else "")
    )
    out.print(f"[dim]{escape(rules.status_note)}[/]")
    out.print(
        f"Controlled at or above [bold]{rules.threshold_operations:.3g}[/] training operations"
    )
    frontier = rules.published_frontier_operations
    out.print(
        "Most capable published model (748.3(f)): "
        + ("not set" if frontier is None else f"{frontier:.3g}")
    )
    groups = Table(title="Country groups", show_lines=False)
    for column in ("group", "also called", "countries"):
        groups.add_column(column)
    for group, members in ((Group.ALLIED, rules.allied), (Group.EMBARGOED, rules.embargoed)):
        labels = rules.group_labels[group]
        names = ", ".join(f"{country_name(c)} ({c})" for c in sorted(members))
        groups.add_row(group.value, f"{labels.tier} / {labels.article_group}", names)
    other = rules.group_labels[Group.OTHER]
    groups.add_row("other", f"{other.tier} / {other.article_group}", "every other country")
    out.print(groups)
    provisions = Table(title="Provisions cited")
    provisions.add_column("key")
    provisions.add_column("citation")
    provisions.add_column("what it says")
    for key, provision in rules.provisions.items():
        provisions.add_row(key, provision.citation, provision.title)
    out.print(provisions)
    out.print("Parameter files: " + ", ".join(rules.parameter_patterns))
    out.print("Not parameters: " + ", ".join(rules.non_parameter_patterns))
    if rules.designated:
        out.print("Designated: " + ", ".join(d.repo_id for d in rules.designated))
    out.print(
        f"Open licenses ({len(rules.open_licenses)}): "
        + ", ".join(o.id for o in rules.open_licenses)
    )


@rules_app.command("check")
def check(
    path: Path = typer.Argument(..., help="Ruleset TOML to validate."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Validate a ruleset file (an amended rule, say); exit 0 when valid, 2 with the problem."""
    rules = load_ruleset(path)
    if as_json:
        print_json({"valid": True, "id": rules.id, "sha256": rules.sha256})
    else:
        stdout().print(f"{path}: valid ruleset {rules.id} (sha256 {rules.sha256})")


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
