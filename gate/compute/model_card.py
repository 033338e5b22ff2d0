"""The model card (README.md): its YAML front matter, and the fields the gate reads from it.

Fields read: `license` (string or list), `license_name`, `base_model` (string or list),
`datasets`, `gated` and `extra_gated_*` (access conditions), and the compute fields
`training_compute_operations`, `training_tokens` and `training_hardware`
({chip, count, days | chip_hours, precision}). Numbers may be written as 3.8e25 or "15.6T".
`private` is not a card field: it comes from the hub's API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from gate.compute.numbers import parse_quantity
from gate.errors import InputError, MetadataError


@dataclass(frozen=True, slots=True)
class HardwareClaim:
    chip: str
    precision: str
    count: float | None = None
    days: float | None = None
    chip_hours: float | None = None


@dataclass(frozen=True, slots=True)
class ModelCard:
    licenses: tuple[str, ...] = ()
    base_models: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    gated: object = None
    gating_fields: tuple[str, ...] = ()
    training_compute_operations: float | None = None
    training_tokens: float | None = None
    training_hardware: HardwareClaim | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


def front_matter(text: str, source: str = "README.md") -> dict[str, Any]:
    """The YAML between the leading `---` lines, or {} when the card has none."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            block = "\n".join(lines[1:index])
            break
    else:
        raise MetadataError(source, "front matter opened with --- is never closed")
    try:
        data = yaml.safe_load(block)
    except (yaml.YAMLError, RecursionError) as exc:  # the parser recurses: deep nesting
        raise MetadataError(source, f"invalid YAML front matter: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MetadataError(source, "front matter must be a YAML mapping")
    return data


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int | float) and str(v).strip())
    return ()


UNREADABLE_BASE = "(unreadable base_model)"
"""Stands for a `base_model` the card names in a form the gate cannot read: a base is named, so
its compute is unknown (a base the gate cannot name is a base it cannot look up)."""


def _base_models(value: object) -> tuple[str, ...]:
    """Every base named; a value that is not a name or a list of names names an unknown base."""
    entries = value if isinstance(value, list) else [value]
    names = tuple(v.strip() for v in entries if isinstance(v, str) and v.strip())
    if any(v is not None and not isinstance(v, str) for v in entries):
        return (*names, UNREADABLE_BASE)
    return names


def _number(data: Mapping[str, Any], key: str, source: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_quantity(value if isinstance(value, int | float | str) else repr(value), key)
    except InputError as exc:
        raise MetadataError(source, exc.problem if not exc.field else str(exc)) from exc


def _hardware(value: object, source: str) -> HardwareClaim | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("chip"), str):
        raise MetadataError(source, "training_hardware must be a mapping with at least `chip`")
    precision = value.get("precision", "bf16")
    if not isinstance(precision, str):
        raise MetadataError(source, "training_hardware.precision must be a string")
    return HardwareClaim(
        chip=value["chip"],
        precision=precision,
        count=_number(value, "count", source),
        days=_number(value, "days", source),
        chip_hours=_number(value, "chip_hours", source),
    )


def parse_model_card(text: str, source: str = "README.md") -> ModelCard:
    data = front_matter(text, source)
    licenses = _strings(data.get("license"))
    if licenses == ("other",) and isinstance(data.get("license_name"), str):
        licenses = (str(data["license_name"]),)
    return ModelCard(
        licenses=licenses,
        base_models=_base_models(data.get("base_model")),
        datasets=_strings(data.get("datasets")),
        gated=data.get("gated"),
        gating_fields=tuple(sorted(k for k in data if k.startswith("extra_gated_"))),
        training_compute_operations=_number(data, "training_compute_operations", source),
        training_tokens=_number(data, "training_tokens", source),
        training_hardware=_hardware(data.get("training_hardware"), source),
        raw=data,
    )
