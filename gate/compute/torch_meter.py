"""Training operations measured with torch (optional extra: `pip install weight-gate[torch]`).

- `forward_flops(...)` builds a module and its inputs on the meta device (no memory, no weights)
  and counts forward operations with `torch.utils.flop_counter.FlopCounterMode`, attention
  included; training costs about 3 x forward (backward is about twice forward), so a researcher
  gets `3 x forward per token x tokens` for any architecture.
- `TrainingMeter` counts the operations of real training steps (forward and backward run inside
  the counter) and, at the end, signs a compute declaration of what it measured.

FlopCounterMode counts a multiply-add as 2 operations, matching the 6 x N x D convention.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from cryptography.hazmat.primitives.asymmetric import ec
from torch.utils.flop_counter import FlopCounterMode

from gate.compute.declaration import Declaration, parse_declaration, sign_declaration
from gate.errors import InputError

TRAINING_FACTOR = 3.0
"""Training operations per forward operation: forward 1, backward about 2."""


@dataclass(frozen=True, slots=True)
class FlopReport:
    parameters: int
    forward_per_token: float

    @property
    def training_per_token(self) -> float:
        return TRAINING_FACTOR * self.forward_per_token

    def training_operations(self, tokens: float) -> float:
        return self.training_per_token * tokens


def count_parameters(module: torch.nn.Module) -> int:
    """Parameters of `module`, each shared tensor counted once."""
    seen: set[int] = set()
    total = 0
    for parameter in module.parameters():
        if id(parameter) not in seen:
            seen.add(id(parameter))
            total += parameter.numel()
    return total


def forward_flops(
    build_model: Callable[[], torch.nn.Module],
    build_inputs: Callable[[], tuple[Any, ...]],
    tokens_per_call: int,
) -> FlopReport:
    """Forward operations per token, measured on the meta device (nothing is allocated)."""
    if tokens_per_call <= 0:
        raise InputError("tokens_per_call", "must be greater than zero")
    with torch.device("meta"):
        model = build_model()
        inputs = build_inputs()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*inputs)
    return FlopReport(count_parameters(model), counter.get_total_flops() / tokens_per_call)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class TrainingMeter:
    """Accumulate the operations of real training steps; sign a declaration at the end.

    Use `with meter.step(tokens=n): loss = model(x); loss.backward(); opt.step()` per step. As a
    context manager, the meter writes `out` when the block exits without an exception, with the
    sha256 of `weight_files` (save the weights inside the block) or the given commit.
    """

    def __init__(
        self,
        *,
        repo: str,
        declarer: str,
        private_key: ec.EllipticCurvePrivateKey | None = None,
        out: Path | None = None,
        weight_files: Sequence[Path] = (),
        commit: str | None = None,
        stage: str = "pre_training",
        model: torch.nn.Module | None = None,
        organization: str | None = None,
        base_model: str | None = None,
        base_operations: float | None = None,
    ) -> None:
        if out is not None and private_key is None:
            raise InputError("private_key", "writing a declaration to `out` needs a private key")
        self.repo, self.declarer, self.organization = repo, declarer, organization
        self.private_key, self.out = private_key, out
        self.weight_files, self.commit, self.stage = tuple(weight_files), commit, stage
        self.model, self.base_model, self.base_operations = model, base_model, base_operations
        self.operations = 0.0
        self.tokens = 0
        self.steps = 0

    @contextmanager
    def step(self, tokens: int) -> Iterator[None]:
        """Count everything torch runs inside the block (forward, backward, optimizer)."""
        with FlopCounterMode(display=False) as counter:
            yield
        self.operations += counter.get_total_flops()
        self.tokens += tokens
        self.steps += 1

    def declaration(self) -> Declaration:
        digests = {p.name: _sha256(p) for p in self.weight_files}
        base = self.base_operations or 0.0
        return parse_declaration(
            {
                "model": {
                    "repo": self.repo,
                    "commit": self.commit,
                    "weight_digests": digests or None,
                },
                "total_operations": self.operations + base,
                "breakdown": {self.stage: self.operations},
                "tokens": float(self.tokens),
                "parameters": (
                    {"total": float(count_parameters(self.model))} if self.model else None
                ),
                "base_model": (
                    {"repo": self.base_model, "operations": self.base_operations}
                    if self.base_model
                    else None
                ),
                "declarer": {"name": self.declarer, "organization": self.organization},
                "date": date.today().isoformat(),
            },
            "training meter",
        )

    def write(self) -> dict[str, Any]:
        if self.private_key is None or self.out is None:
            raise InputError("private_key", "writing a declaration needs a private key and out")
        envelope = sign_declaration(self.declaration(), self.private_key)
        self.out.write_text(json.dumps(envelope, indent=2) + "\n", "utf-8")
        return envelope

    def __enter__(self) -> TrainingMeter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self.out is not None:
            self.write()
