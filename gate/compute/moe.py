"""Mixture-of-experts: total versus active parameters, from tensor names and config fields.

Training compute follows the parameters each token passes through (the "active" ones): shared
layers, the router and shared experts fully, routed experts in the proportion experts-per-token /
experts. Routed expert tensors are recognised by name: `...experts.<i>....` (Mixtral, DeepSeek,
Qwen-MoE; `shared_experts` does not match) or fused `...experts.<name>` tensors whose first
dimension is the expert count (GPT-OSS style).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_INDEXED = re.compile(r"(?:^|\.)experts\.(\d+)\.")
_FUSED = re.compile(r"(?:^|\.)experts\.[A-Za-z_]")

EXPERT_COUNT_FIELDS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
TOP_K_FIELDS = ("num_experts_per_tok", "moe_topk", "num_selected_experts", "experts_per_token")
SHARED_FIELDS = ("n_shared_experts", "num_shared_experts", "shared_expert_intermediate_size")


def text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language-model part of a config (multimodal configs nest it under `text_config`)."""
    nested = config.get("text_config")
    if isinstance(nested, Mapping) and "hidden_size" not in config:
        return nested
    return config


def _positive_int(config: Mapping[str, Any], names: Iterable[str]) -> int | None:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@dataclass(frozen=True, slots=True)
class MoeInfo:
    """What the model says about its experts. `active` is None when it cannot be known."""

    experts: int | None
    experts_per_token: int | None
    shared_experts: int | None
    routed_parameters: int
    detected_from: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "experts": self.experts,
            "experts_per_token": self.experts_per_token,
            "shared_experts": self.shared_experts,
            "routed_parameters": self.routed_parameters,
            "detected_from": self.detected_from,
        }


def config_moe(config: Mapping[str, Any] | None) -> tuple[int | None, int | None, int | None]:
    """(experts, experts per token, shared experts) from a config, each None when absent."""
    if not config:
        return None, None, None
    cfg = text_config(config)
    shared = _positive_int(cfg, SHARED_FIELDS[:2])
    if shared is None and _positive_int(cfg, SHARED_FIELDS[2:]):
        shared = 1  # Qwen-MoE: one shared expert of the given width
    return _positive_int(cfg, EXPERT_COUNT_FIELDS), _positive_int(cfg, TOP_K_FIELDS), shared


def detect(
    tensors: Iterable[tuple[str, tuple[int, ...], int]],
    config: Mapping[str, Any] | None,
) -> MoeInfo | None:
    """Detect routed experts among (name, shape, numel) tensors; None for a dense model."""
    experts, top_k, shared = config_moe(config)
    routed = 0
    indices: set[int] = set()
    fused_first_dims: set[int] = set()
    for name, shape, numel in tensors:
        match = _INDEXED.search(name)
        if match:
            routed += numel
            indices.add(int(match.group(1)))
        elif _FUSED.search(name) and len(shape) >= 2:
            routed += numel
            fused_first_dims.add(shape[0])
    if routed == 0:
        if experts is not None and experts > 1:
            return MoeInfo(experts, top_k, shared, 0, "config")
        return None
    if experts is None:
        if indices:
            experts = max(indices) + 1
        elif len(fused_first_dims) == 1:
            experts = next(iter(fused_first_dims))
    return MoeInfo(experts, top_k, shared, routed, "tensor names")


def active_parameters(total: int, moe: MoeInfo | None) -> tuple[int, str | None]:
    """Active parameters and a warning when they had to be taken as the total (upper bound)."""
    if moe is None:
        return total, None
    if moe.routed_parameters == 0:
        return total, (
            "config declares experts but no expert tensors were recognised: "
            "active parameters taken as total"
        )
    if moe.experts is None or moe.experts_per_token is None:
        return total, (
            "mixture-of-experts without a known experts-per-token count: "
            "active parameters taken as total (an upper bound)"
        )
    share = min(moe.experts_per_token / moe.experts, 1.0)
    active = total - moe.routed_parameters + round(moe.routed_parameters * share)
    return active, None
