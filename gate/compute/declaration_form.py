"""A compute declaration from the strings a person typed (CLI flags or prompts).

Numbers accept the `gate estimate` forms (3.8e25, 15.6T, 70B); every error names the flag.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from gate.compute.declaration import Declaration, parse_declaration
from gate.compute.numbers import parse_positive, parse_quantity
from gate.errors import InputError


def _num(value: str | None, flag: str, positive: bool = False) -> float | None:
    if value is None:
        return None
    return parse_positive(value, flag) if positive else parse_quantity(value, flag)


def build_declaration(fields: dict[str, str | None], digests: list[str]) -> Declaration:
    """A Declaration from string flags (numbers like 3.8e25 or 15.6T), validated."""

    def num(name: str, flag: str) -> float | None:
        return _num(fields.get(name), flag)

    breakdown = {
        "pre_training": num("pre_training", "--pre-training"),
        "continued_training": num("continued_training", "--continued-training"),
        "fine_tuning": num("fine_tuning", "--fine-tuning"),
        "rl_post_training": num("rl_post_training", "--rl-post-training"),
        "synthetic_data_generation": num("synthetic_data", "--synthetic-data"),
    }
    base_ops = num("base_operations", "--base-operations")
    total = num("total", "--total")
    if total is None:
        parts = [v for v in breakdown.values() if v is not None]
        if not parts:
            raise InputError("--total", "give the total operations or at least one stage")
        total = sum(parts) + (base_ops or 0.0)
    weight_digests: dict[str, str] = {}
    for item in digests:
        path, sep, digest = item.partition("=")
        if not sep:
            raise InputError("--digest", f"expected PATH=SHA256, got {item!r}")
        weight_digests[path] = digest.lower()
    hardware = None
    if fields.get("chip"):
        hardware = {
            "chip": fields["chip"],
            "count": _num(fields.get("chip_count"), "--chip-count", positive=True),
            "days": _num(fields.get("days"), "--days", positive=True),
            "chip_hours": _num(fields.get("chip_hours"), "--chip-hours", positive=True),
            "precision": fields.get("precision"),
        }
    parameters = None
    if fields.get("params"):
        parameters = {
            "total": _num(fields["params"], "--params"),
            "active": _num(fields.get("active_params"), "--active-params"),
        }
    data: dict[str, Any] = {
        "model": {
            "repo": fields.get("repo"),
            "commit": fields.get("commit"),
            "weight_digests": weight_digests or None,
        },
        "total_operations": total,
        "breakdown": {k: v for k, v in breakdown.items() if v is not None},
        "tokens": num("tokens", "--tokens"),
        "parameters": parameters,
        "hardware": hardware,
        "base_model": (
            {"repo": fields["base_model"], "operations": base_ops}
            if fields.get("base_model")
            else None
        ),
        "declarer": {
            "name": fields.get("declarer"),
            "organization": fields.get("organization"),
            "contact": fields.get("contact"),
        },
        "date": fields.get("date") or date.today().isoformat(),
    }
    return parse_declaration(data, "declaration")
