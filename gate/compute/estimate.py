"""One method's answer: an interval of training operations with its inputs and evidence.

Every method (declaration, counting, hardware, upper bound, model card, lineage) returns an
`Estimate`; `combine` turns several into the one `ComputeInterval` the decision reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gate.compute.numbers import format_ops

# Methods in order of precedence (see combine.py). Authoritative ones settle the interval;
# estimates are ranked by how directly they measure the training run.
AUTHORITATIVE = ("recorded", "declaration")
ESTIMATES = ("counting", "hardware", "reported")
BOUND = "upper_bound"
REPORTED = "reported"
"""A figure stated outright (a model card field, a declaration from an untrusted key)."""


@dataclass(frozen=True, slots=True)
class Estimate:
    method: str
    low: float | None
    central: float | None
    high: float | None
    evidence: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    unsigned: bool = False
    """Built on claims nobody the operator trusts has signed (a model card's figures, tokens or
    hardware; a declaration from an untrusted key): it may raise the low end, never set the
    high end (see combine.py)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "low": self.low,
            "central": self.central,
            "high": self.high,
            "evidence": self.evidence,
            "inputs": dict(self.inputs),
        }

    def describe(self) -> str:
        return (
            f"{self.method}: {format_ops(self.central)} "
            f"[{format_ops(self.low)}, {format_ops(self.high)}] ({self.evidence})"
        )
