"""The top-level commands of `gate`: name, the module that registers it, its one-line help.

A plain table (no typer), so `gate --help` lists the commands without importing any and
`gate decide FILE` starts without the command-line framework. A test checks that every line here
matches the command its module registers.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "decide": (
        "decide_cmd",
        "Decide one transfer. Exit 0 allow, 10 license_required, 11 deny, 12 hold, 2 bad input.",
    ),
    "demo": (
        "demo_cmd",
        "Run the gate end to end on a demo hub and show who got which weights, and why.",
    ),
    "serve": (
        "serve_cmd",
        "Serve models to the unmodified huggingface_hub client, deciding every transfer.",
    ),
    "report": ("audit_cmd", "Summarise decisions by verdict, basis, recipient and model."),
    "replay": (
        "audit_cmd",
        "Re-decide recorded requests under another ruleset; list what would change (read-only).",
    ),
    "estimate": (
        "estimate_cmd",
        "Estimate training compute and where it stands against the threshold.",
    ),
    "classify": ("estimate_cmd", "Training compute and publication status of a model, together."),
    "rules": ("rules_cmd", "Show or check rulesets."),
    "recipients": ("records_cmd", "Organisations that receive weights."),
    "licenses": ("licenses_cmd", "BIS licenses on record."),
    "models": ("models_cmd", "What the operator says about models."),
    "audit": ("audit_cmd", "The tamper-evident record of decisions."),
    "inquiries": ("inquiries_cmd", "Questions a hold asks, answers, review."),
    "declare": (
        "estimate_cmd",
        "Build and sign a compute declaration (DSSE, ECDSA P-256), or verify one.",
    ),
    "keys": ("keys_cmd", "Manage the gate's signing keys (ECDSA P-256)."),
    "screening": (
        "screening_cmd",
        "Restricted-party screening against the US Consolidated Screening List.",
    ),
    "config": ("config_cmd", "Show the effective settings and where each came from."),
}
"""Top-level command -> (module in gate.cli that registers it, one-line help)."""
