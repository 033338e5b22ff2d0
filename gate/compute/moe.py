"""Mixture-of-experts: which parameters are routed experts, read from the weights' tensor names.

Training compute follows the parameters each token passes through (the "active" ones). How many
experts a token visits is written only in `config.json` (`num_experts_per_tok` and the like),
which the uploader controls and nobody signed: a config that claims a million experts, or top-1
instead of top-8, would shrink the active count, and with it the high end of the compute
interval. So the count the gate relies on takes every expert as active (RULES.md: claims never
lower the high end); only a declaration signed by a trusted key can state a smaller active count
(`gate.compute.assemble` applies it). The experts themselves are counted from the tensor names in
the safetensors headers, never from the config: `...experts.<i>....` (Mixtral, DeepSeek,
Qwen-MoE; `shared_experts` does not match) or fused `...experts.<name>` tensors whose first
dimension is the expert count (GPT-OSS style). What the config claims is kept beside, as a claim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_INDEXED = re.compile(r"(?:^|\.)experts\.(\d+)\.")
_FUSED = re.compile(r"(?:^|\.)experts\.[A-Za-z_]")
_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|block)\.(\d+)\.")

EXPERT_COUNT_FIELDS = (
    "num_local_experts",
    "num_experts",
    "n_routed_experts",
    "moe_num_experts",
    "num_routed_experts",
    "n_experts",
    "expert_count",
)
"""Config keys that name the number of routed experts (read by the config-only estimate)."""
TOP_K_FIELDS = (
    "num_experts_per_tok",
    "moe_topk",
    "num_selected_experts",
    "experts_per_token",
    "moe_k",
    "top_k",
)
SHARED_COUNT_FIELDS = ("n_shared_experts", "num_shared_experts", "moe_num_shared_experts")
SHARED_WIDTH_FIELDS = ("shared_expert_intermediate_size", "moe_shared_expert_intermediate_size")
EXPERT_WIDTH_FIELDS = ("moe_intermediate_size", "expert_intermediate_size", "moe_ffn_hidden_size")

ALL_ACTIVE = (
    "mixture-of-experts: every expert counted as active (the share a token visits is only "
    "claimed by the config; a declaration signed by a trusted key can state it)"
)


def text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language-model part of a config (multimodal configs nest it under `text_config`)."""
    nested = config.get("text_config")
    if isinstance(nested, Mapping) and "hidden_size" not in config:
        return nested
    return config


def positive_int(config: Mapping[str, Any], names: Iterable[str]) -> int | None:
    """The first of `names` holding a positive integer, or None."""
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@dataclass(frozen=True, slots=True)
class MoeClaim:
    """What a config says about its experts: a claim, shown, never used to lower a count."""

    experts: int | None
    experts_per_token: int | None
    shared_experts: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "experts": self.experts,
            "experts_per_token": self.experts_per_token,
            "shared_experts": self.shared_experts,
        }


def config_moe(config: Mapping[str, Any] | None) -> MoeClaim:
    """The config's expert fields, each None when absent (`text_config` is looked into)."""
    if not config:
        return MoeClaim(None, None, None)
    cfg = text_config(config)
    shared = positive_int(cfg, SHARED_COUNT_FIELDS)
    if shared is None and positive_int(cfg, SHARED_WIDTH_FIELDS):
        shared = 1  # Qwen-MoE: one shared expert of the given width
    return MoeClaim(positive_int(cfg, EXPERT_COUNT_FIELDS), positive_int(cfg, TOP_K_FIELDS), shared)


@dataclass(frozen=True, slots=True)
class MoeInfo:
    """Routed experts found in the weights. `experts` is per layer, from the tensor names."""

    experts: int | None
    routed_parameters: int
    claim: MoeClaim
    detected_from: str = "tensor names"

    def to_dict(self) -> dict[str, Any]:
        return {
            "experts": self.experts,
            "routed_parameters": self.routed_parameters,
            "detected_from": self.detected_from,
            "config_claims": self.claim.to_dict(),
        }


def detect(
    tensors: Iterable[tuple[str, tuple[int, ...], int]],
    config: Mapping[str, Any] | None = None,
) -> MoeInfo | None:
    """Routed experts among (name, shape, numel) tensors; None when no tensor is an expert.

    The expert count is the most distinct expert indices any one layer holds (names such as
    `experts.999999.` cannot inflate it past what is there), or the first dimension of fused
    expert tensors. The config is only recorded as a claim.
    """
    claim = config_moe(config)
    routed = 0
    per_layer: dict[str, set[int]] = {}
    fused_first_dims: set[int] = set()
    for name, shape, numel in tensors:
        match = _INDEXED.search(name)
        if match:
            routed += numel
            layer = _LAYER.search(name)
            per_layer.setdefault(layer.group(1) if layer else "", set()).add(int(match.group(1)))
        elif _FUSED.search(name) and len(shape) >= 2:
            routed += numel
            fused_first_dims.add(shape[0])
    if routed == 0:
        return None
    experts: int | None = None
    if per_layer:
        experts = max(len(indices) for indices in per_layer.values())
    elif len(fused_first_dims) == 1:
        experts = next(iter(fused_first_dims))
    return MoeInfo(experts, routed, claim)


def active_parameters(total: int, moe: MoeInfo | None) -> tuple[int, str | None]:
    """Active parameters the gate relies on, and a note when experts were found: the total.

    Every expert counts as active: the share a token visits is a config claim, and a claim may
    not lower the count. A trusted declaration's active count replaces this (in `assemble`).
    """
    if moe is None:
        return total, None
    return total, ALL_ACTIVE


def claimed_active(total: int, moe: MoeInfo | None) -> int | None:
    """What the config's top-k would make active (shown as a claim; never the gate's figure)."""
    if moe is None or moe.experts is None or moe.claim.experts_per_token is None:
        return None
    share = min(moe.claim.experts_per_token / moe.experts, 1.0)
    return total - moe.routed_parameters + round(moe.routed_parameters * share)
