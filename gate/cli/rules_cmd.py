"""`gate rules show|check|export`: read the rulesets a decision uses, validate an operator's own,
or write the shipped ones out to start an amended one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from gate.cli.output import print_json, stdout
from gate.core.embargoes import EmbargoRuleset
from gate.core.files import FileRules
from gate.core.ruleset import Ruleset
from gate.core.ruleset_set import AnyRuleset
from gate.core.values import Group
from gate.errors import InputError
from gate.rules.countries import country_name
from gate.rules.loader import load_any_ruleset, load_ruleset_set, shipped_ruleset_paths

RULESET_OPTION = typer.Option(
    None, "--ruleset", help="Ruleset TOML; repeat for a set (default: the shipped set)."
)

rules_app = typer.Typer(help="Show or check rulesets.", no_args_is_help=True)


def files_summary(files: FileRules) -> dict[str, Any]:
    return {
        "max_non_parameter_bytes": files.max_non_parameter_bytes,
        "safetensors_metadata_max_bytes": files.safetensors_metadata_max_bytes,
        "not_parameters": {
            c.name: {
                "text": c.text,
                "signatures": [s.hex() for s in c.signatures],
                "patterns": list(c.patterns),
            }
            for c in files.categories
        },
    }


def embargo_summary(rules: EmbargoRuleset) -> dict[str, Any]:
    return {
        "id": rules.id,
        "procedure": "ear-embargoes",
        "sha256": rules.sha256,
        "title": rules.title,
        "status_note": rules.status_note,
        "dates": {"effective": rules.effective.isoformat()},
        "embargoed": sorted(rules.embargoed),
        "block_published": rules.block_published,
        "require_screening": rules.require_screening,
        "provisions": {
            k: {"citation": v.citation, "title": v.title} for k, v in rules.provisions.items()
        },
        "parameter_files": files_summary(rules.files),
        "sources": [{"title": s.title, "url": s.url} for s in rules.sources],
    }


def ruleset_summary(rules: AnyRuleset) -> dict[str, Any]:
    if isinstance(rules, EmbargoRuleset):
        return embargo_summary(rules)
    return {
        "id": rules.id,
        "procedure": "4e091",
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
        "us_territories": sorted(rules.us_territories),
        "parameter_files": files_summary(rules.files),
        "designated": [{"repo_id": d.repo_id, "reason": d.reason} for d in rules.designated],
        "open_licenses": [{"id": o.id, "note": o.note} for o in rules.open_licenses],
        "sources": [{"title": s.title, "url": s.url} for s in rules.sources],
    }


@rules_app.command("show")
def show(
    ruleset: list[Path] | None = RULESET_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON (a list, one per ruleset)."),
) -> None:
    """Print each ruleset of the set readably: dates, groups or embargoes, provisions, files."""
    rule_set = load_ruleset_set(ruleset)
    if as_json:
        print_json([ruleset_summary(r) for r in rule_set])
        return
    for rules in rule_set:
        if isinstance(rules, EmbargoRuleset):
            _show_embargoes(rules)
        else:
            _show_4e091(rules)


def _show_files(files: FileRules) -> None:
    out = stdout()
    out.print(
        "Files are parameters unless named below and their bytes agree "
        f"(at most {files.max_non_parameter_bytes} bytes; safetensors __metadata__ at most "
        f"{files.safetensors_metadata_max_bytes} bytes):"
    )
    for category in files.categories:
        out.print(f"  {category.name}: " + escape(", ".join(category.patterns)))


def _show_embargoes(rules: EmbargoRuleset) -> None:
    out = stdout()
    out.print(f"[bold]{escape(rules.title)}[/]")
    out.print(f"id {rules.id}  sha256 {rules.sha256}  effective {rules.effective}")
    out.print(f"[dim]{escape(rules.status_note)}[/]")
    out.print(
        "Comprehensively embargoed: "
        + ", ".join(f"{country_name(c)} ({c})" for c in sorted(rules.embargoed))
    )
    out.print(
        f"block_published {str(rules.block_published).lower()}  "
        f"require_screening {str(rules.require_screening).lower()}"
    )
    for key, provision in rules.provisions.items():
        out.print(f"  {key}: {escape(provision.citation)} ({escape(provision.title)})")
    _show_files(rules.files)


def _show_4e091(rules: Ruleset) -> None:
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
    out.print("United States territories: " + ", ".join(sorted(rules.us_territories)))
    _show_files(rules.files)
    if rules.designated:
        out.print("Designated: " + ", ".join(d.repo_id for d in rules.designated))
    out.print(
        f"Open licenses ({len(rules.open_licenses)}): "
        + ", ".join(o.id for o in rules.open_licenses)
    )


@rules_app.command("check")
def check(
    paths: list[Path] = typer.Argument(..., help="Ruleset TOML file(s) to validate, as a set."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Validate ruleset files (an amended rule, say); exit 0 when valid, 2 with the problem."""
    rule_set = load_ruleset_set(paths)
    if as_json:
        results = [{"valid": True, "id": r.id, "sha256": r.sha256} for r in rule_set]
        print_json(results[0] if len(results) == 1 else results)
        return
    for path, rules in zip(paths, rule_set, strict=True):
        stdout().print(f"{path}: valid ruleset {rules.id} (sha256 {rules.sha256})", markup=False)


@rules_app.command("export")
def export(
    directory: Path = typer.Argument(..., help="Directory to write the shipped ruleset files to."),
    ruleset_id: list[str] | None = typer.Option(
        None, "--id", help="Only this ruleset (repeat; default: every shipped ruleset)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write the shipped ruleset file(s), comments included, to start an amended ruleset."""
    chosen = []
    for path in shipped_ruleset_paths():
        rules = load_any_ruleset(path)
        if not ruleset_id or rules.id in ruleset_id:
            chosen.append(path)
    known = {load_any_ruleset(p).id for p in shipped_ruleset_paths()}
    unknown = sorted(set(ruleset_id or ()) - known)
    if unknown:
        raise InputError(
            "--id", f"no shipped ruleset {', '.join(unknown)} (shipped: {', '.join(sorted(known))})"
        )
    if not directory.is_dir():
        raise InputError(str(directory), "no such directory")
    for path in chosen:
        target = directory / path.name
        if target.exists() and not force:
            raise InputError(str(target), "exists; pass --force to overwrite")
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        stdout().print(f"wrote {target}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
