"""The hardware method: chips x time x dense peak at the training precision x utilization.

Utilization (model FLOPs utilization): practitioners report 20-60%; 30-40% is the usual
assumption. Central 0.35, interval 0.2-0.6. A utilization the user gives becomes the central
value and widens the interval if it falls outside 0.2-0.6.
"""

from __future__ import annotations

from gate.compute.accelerators import Accelerator
from gate.compute.estimate import Estimate
from gate.errors import InputError

UTILIZATION_CENTRAL = 0.35
UTILIZATION_LOW = 0.2
UTILIZATION_HIGH = 0.6


def chip_seconds(
    chip_count: float | None = None, days: float | None = None, chip_hours: float | None = None
) -> float:
    """Chip time in seconds from either count x days or total chip-hours (exactly one)."""
    if chip_hours is not None:
        if days is not None:
            raise InputError("chip_hours", "give either days (with a chip count) or chip-hours")
        if chip_hours <= 0:
            raise InputError("chip_hours", "must be greater than zero")
        return chip_hours * 3600.0
    if chip_count is None or days is None:
        raise InputError("days", "the hardware method needs a chip count and days, or chip-hours")
    if chip_count <= 0 or days <= 0:
        raise InputError("chip_count", "chip count and days must be greater than zero")
    return chip_count * days * 86400.0


def hardware_estimate(
    chip: Accelerator,
    precision: str,
    seconds: float,
    utilization: float | None = None,
) -> Estimate:
    peak = chip.peak(precision)
    if utilization is not None and not 0 < utilization <= 1:
        raise InputError("utilization", f"must be in (0, 1], got {utilization:g}")
    central_u = UTILIZATION_CENTRAL if utilization is None else utilization
    low_u = min(UTILIZATION_LOW, central_u)
    high_u = max(UTILIZATION_HIGH, central_u)
    peak_ops = peak * seconds
    return Estimate(
        "hardware",
        peak_ops * low_u,
        peak_ops * central_u,
        peak_ops * high_u,
        f"{seconds / 3600:.4g} {chip.name} chip-hours x {peak / 1e12:g} TFLOPS dense "
        f"{precision} x utilization {central_u:g} ({low_u:g}-{high_u:g})",
        {
            "chip": chip.name,
            "precision": precision.lower(),
            "chip_hours": seconds / 3600,
            "peak_tflops": peak / 1e12,
            "utilization": central_u,
            "chip_source": chip.source,
        },
    )
