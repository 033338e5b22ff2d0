"""The accelerator table (accelerators.toml, data): dense peak throughput per chip and precision.

Names match case-insensitively with aliases, ignoring vendor words, memory sizes and separators,
so `h100`, `H100-SXM`, `NVIDIA H100 80GB HBM3`, `tpu-v4` and `TPU v4` all resolve.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from gate.errors import InputError

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4")


@dataclass(frozen=True, slots=True)
class Accelerator:
    name: str
    aliases: tuple[str, ...]
    peak_tflops: Mapping[str, float]
    source: str

    def peak(self, precision: str) -> float:
        """Dense peak operations per second at `precision` (raises InputError if it has none)."""
        key = precision.lower()
        if key not in self.peak_tflops:
            have = ", ".join(self.peak_tflops)
            raise InputError(
                "precision", f"{self.name} has no dense {precision} peak in the table (has {have})"
            )
        return self.peak_tflops[key] * 1e12


_NOISE = re.compile(r"\b(nvidia|amd|google|intel|aws|cloud|tesla)\b|\b\d+\s*gb\b|\bhbm\d*e?\b")


def _key(name: str) -> str:
    text = _NOISE.sub(" ", name.lower())
    return re.sub(r"[\s_\-]+", "", text)


@cache
def accelerators() -> tuple[Accelerator, ...]:
    data = tomllib.loads(
        resources.files("gate.compute").joinpath("accelerators.toml").read_text("utf-8")
    )
    chips = []
    for row in data["chip"]:
        peaks = {p: float(row[p]) for p in PRECISIONS if p in row}
        chips.append(Accelerator(row["name"], tuple(row.get("aliases", ())), peaks, row["source"]))
    return tuple(chips)


@cache
def _index() -> dict[str, Accelerator]:
    index: dict[str, Accelerator] = {}
    for chip in accelerators():
        for alias in (chip.name, *chip.aliases):
            index.setdefault(_key(alias), chip)
    return index


def find_accelerator(name: str, field: str = "chip") -> Accelerator:
    """The table row for `name`; raises InputError naming the field and the known chips."""
    chip = _index().get(_key(name))
    if chip is None:
        known = ", ".join(c.name for c in accelerators())
        raise InputError(field, f"unknown accelerator {name!r} (known: {known})")
    return chip
