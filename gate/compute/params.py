"""Parameter counts for a whole model: from its safetensors headers, else from its config.

Headers are the evidence of record (they describe the actual weights); the config is the fallback
when a repository has no safetensors files. Either way the active count the gate relies on is the
total: experts are found in the tensor names, and how many a token visits is only the config's
claim (see `gate.compute.moe`). Packed quantized checkpoints (GPTQ/AWQ store several
weights per int32) undercount in headers, so when a quantization config is present the larger of
header and config counts is used, never the smaller: an undercount would make a model look
smaller than it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gate.compute.config_estimate import estimate_from_config
from gate.compute.moe import MoeInfo, active_parameters, claimed_active, detect
from gate.compute.safetensors_header import SafetensorsHeader
from gate.errors import MetadataError


@dataclass(frozen=True, slots=True)
class ParameterCount:
    total: int
    active: int
    source: str
    by_dtype: Mapping[str, int] = field(default_factory=dict)
    encoder: int | None = None
    decoder: int | None = None
    moe: MoeInfo | None = None
    files: int = 0
    warnings: tuple[str, ...] = ()
    claimed_active: int | None = None
    """What the config's experts-per-token would make active: a claim, shown, never relied on."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "active": self.active,
            "source": self.source,
            "by_dtype": dict(self.by_dtype),
            "encoder": self.encoder,
            "decoder": self.decoder,
            "moe": self.moe.to_dict() if self.moe else None,
            "files": self.files,
            "claimed_active": self.claimed_active,
        }


def _quantized(config: Mapping[str, Any] | None, names: Sequence[str]) -> bool:
    if config and isinstance(config.get("quantization_config"), Mapping):
        return True
    return any(name.endswith((".qweight", ".qzeros")) for name in names)


def count_from_headers(
    headers: Sequence[SafetensorsHeader], config: Mapping[str, Any] | None = None
) -> ParameterCount:
    """Sum the tensors of every shard; detect experts and encoder/decoder stacks by name."""
    seen: dict[str, str] = {}
    by_dtype: dict[str, int] = {}
    encoder = decoder = 0
    rows: list[tuple[str, tuple[int, ...], int]] = []
    for header in headers:
        for tensor in header.tensors:
            if tensor.name in seen:
                # Counting it twice would inflate; counting it once would hide a conflict.
                raise MetadataError(
                    header.source, f"tensor {tensor.name!r} also appears in {seen[tensor.name]}"
                )
            seen[tensor.name] = header.source
            numel = tensor.numel
            by_dtype[tensor.dtype] = by_dtype.get(tensor.dtype, 0) + numel
            rows.append((tensor.name, tensor.shape, numel))
            if tensor.name.startswith("encoder."):
                encoder += numel
            elif tensor.name.startswith(("decoder.", "lm_head.")):
                decoder += numel
    total = sum(by_dtype.values())
    moe = detect(rows, config)
    active, moe_warning = active_parameters(total, moe)
    claimed = claimed_active(total, moe)
    warnings: list[str] = [moe_warning] if moe_warning else []
    source = "safetensors header"
    if _quantized(config, list(seen)):
        warnings.append("quantized checkpoint: packed tensors undercount parameters")
        if config:
            try:
                estimate = estimate_from_config(config)
            except MetadataError as exc:
                warnings.append(f"no config estimate to correct it: {exc.problem}")
            else:
                if estimate.total > total:
                    total, active = estimate.total, estimate.total
                    claimed = estimate.claimed_active
                    source = f"config.json ({estimate.architecture}), header undercounts"
    stacks = encoder > 0 and decoder > 0
    return ParameterCount(
        total=total,
        active=active,
        source=source,
        by_dtype=by_dtype,
        encoder=encoder if stacks else None,
        decoder=decoder if stacks else None,
        moe=moe,
        files=len(headers),
        warnings=tuple(warnings),
        claimed_active=claimed,
    )


def count_from_config(config: Mapping[str, Any], source: str = "config.json") -> ParameterCount:
    estimate = estimate_from_config(config, source)
    return ParameterCount(
        total=estimate.total,
        active=estimate.total,
        source=f"config.json ({estimate.architecture})",
        encoder=estimate.encoder,
        decoder=estimate.decoder,
        warnings=estimate.warnings,
        claimed_active=estimate.claimed_active,
    )
