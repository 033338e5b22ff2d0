"""Parameter counts from `config.json` when no safetensors file exists (common architectures).

Formulas count every weight matrix, bias and norm the Hugging Face implementation creates, so the
results match the checkpoints' own counts closely (tests compare with published totals). Unknown
architectures with the usual decoder fields fall back to the Llama formula, with a warning, and
never undercount: they read the common expert keys (`num_local_experts`, `num_experts`,
`n_routed_experts`, `moe_intermediate_size`...) and count the routed experts on top of a dense
MLP in every layer. A non-gated MLP (Nemotron: up and down projections, no gate) is counted with
two matrices, a gated one (SwiGLU) with three.

A config is the uploader's claim: `active` is therefore the total whenever experts are counted
(every expert active, RULES.md), and what the config's experts-per-token would make active is
kept as `claimed_active`, shown but never relied on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gate.compute.moe import (
    EXPERT_WIDTH_FIELDS,
    SHARED_WIDTH_FIELDS,
    config_moe,
    positive_int,
    text_config,
)
from gate.errors import MetadataError

LLAMA_LIKE = {
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "gemma",
    "gemma2",
    "gemma3_text",
    "mixtral",
    "qwen2_moe",
    "qwen3_moe",
}

NON_GATED_MLP = {"nemotron", "nemotron_h"}
"""Architectures whose MLP is up and down projections only (squared ReLU, no gate)."""


@dataclass(frozen=True, slots=True)
class ConfigEstimate:
    architecture: str
    total: int
    active: int
    encoder: int | None = None
    decoder: int | None = None
    warnings: tuple[str, ...] = field(default=())
    claimed_active: int | None = None
    """Active parameters if the config's experts-per-token were true (a claim; None if dense)."""


def _get(cfg: Mapping[str, Any], source: str, *names: str, default: int | None = None) -> int:
    for name in names:
        value = cfg.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    if default is not None:
        return default
    raise MetadataError(source, f"missing or invalid field {names[0]!r}")


def _llama_like(cfg: Mapping[str, Any], kind: str, source: str) -> ConfigEstimate:
    d = _get(cfg, source, "hidden_size")
    layers = _get(cfg, source, "num_hidden_layers")
    vocab = _get(cfg, source, "vocab_size")
    heads = _get(cfg, source, "num_attention_heads")
    kv_heads = _get(cfg, source, "num_key_value_heads", default=heads)
    head_dim = cfg.get("head_dim") or d // max(heads, 1)
    ff = _get(cfg, source, "intermediate_size")
    tied = bool(cfg.get("tie_word_embeddings", kind.startswith("gemma")))
    attn = d * heads * head_dim + 2 * d * kv_heads * head_dim + heads * head_dim * d
    if kind.startswith("qwen2") or cfg.get("attention_bias"):
        attn += heads * head_dim + 2 * kv_heads * head_dim
    if kind.startswith("qwen3") or kind in {"gemma3_text"}:
        attn += 2 * head_dim  # q_norm and k_norm
    norms = 2 * d + (2 * d if kind in {"gemma2", "gemma3_text"} else 0)
    claim = config_moe(cfg)
    experts, top_k = claim.experts, claim.experts_per_token
    matrices = 2 if _non_gated(cfg, kind) else 3
    dense_mlp = matrices * d * ff
    total_layer = active_layer = attn + norms
    known_moe = kind in {"mixtral", "qwen2_moe", "qwen3_moe"}
    if experts and (known_moe or kind not in LLAMA_LIKE):
        moe_ff = positive_int(cfg, EXPERT_WIDTH_FIELDS) or ff
        routed = experts * matrices * d * moe_ff
        shared_ff = positive_int(cfg, SHARED_WIDTH_FIELDS) or 0
        shared = matrices * d * shared_ff + (d if shared_ff else 0)  # shared expert, its gate
        shared += (claim.shared_experts or 0) * matrices * d * moe_ff if not shared_ff else 0
        router = d * experts
        k = min(top_k or experts, experts)
        # An unknown architecture may keep a dense MLP beside its experts: count it too, an
        # overcount being the safe side of not knowing.
        extra = 0 if known_moe else dense_mlp
        total_layer += routed + shared + router + extra
        active_layer += routed * k // experts + shared + router + extra
    else:
        total_layer += dense_mlp
        active_layer += dense_mlp
    embed = vocab * d * (1 if tied else 2)
    total = embed + layers * total_layer + d
    claimed = embed + layers * active_layer + d
    return ConfigEstimate(kind, total, total, claimed_active=claimed if claimed != total else None)


def _non_gated(cfg: Mapping[str, Any], kind: str) -> bool:
    """Whether the MLP has no gate projection: Nemotron's, or a config saying `mlp_type` is a
    plain (non-GLU) MLP. Anything else counts three matrices, the larger figure."""
    if kind in NON_GATED_MLP:
        return True
    mlp_type = cfg.get("mlp_type")
    if isinstance(mlp_type, str):
        lowered = mlp_type.lower()
        return not any(word in lowered for word in ("glu", "gate", "gated"))
    return False


def _deepseek(cfg: Mapping[str, Any], kind: str, source: str) -> ConfigEstimate:
    d = _get(cfg, source, "hidden_size")
    layers = _get(cfg, source, "num_hidden_layers")
    vocab = _get(cfg, source, "vocab_size")
    heads = _get(cfg, source, "num_attention_heads")
    nope = _get(cfg, source, "qk_nope_head_dim")
    rope = _get(cfg, source, "qk_rope_head_dim")
    v_dim = _get(cfg, source, "v_head_dim")
    kv_rank = _get(cfg, source, "kv_lora_rank")
    q_rank = cfg.get("q_lora_rank")
    if isinstance(q_rank, int) and q_rank > 0:
        q = d * q_rank + q_rank + q_rank * heads * (nope + rope)
    else:
        q = d * heads * (nope + rope)
    attn = q + d * (kv_rank + rope) + kv_rank + kv_rank * heads * (nope + v_dim) + heads * v_dim * d
    norms = 2 * d
    ff = _get(cfg, source, "intermediate_size")
    moe_ff = _get(cfg, source, "moe_intermediate_size")
    experts = _get(cfg, source, "n_routed_experts")
    top_k = _get(cfg, source, "num_experts_per_tok")
    shared = _get(cfg, source, "n_shared_experts", default=0)
    dense_layers = min(_get(cfg, source, "first_k_dense_replace", default=0), layers)
    moe_layers = layers - dense_layers
    router = experts * d + experts  # gate weight and score-correction bias
    moe_total = experts * 3 * d * moe_ff + shared * 3 * d * moe_ff + router
    moe_active = top_k * 3 * d * moe_ff + shared * 3 * d * moe_ff + router
    base = dense_layers * (attn + norms + 3 * d * ff) + moe_layers * (attn + norms)
    embed = vocab * d * (1 if cfg.get("tie_word_embeddings") else 2) + d
    warnings: tuple[str, ...] = ()
    if cfg.get("num_nextn_predict_layers"):
        warnings = ("multi-token-prediction layers are not counted (config estimate)",)
    total = embed + base + moe_layers * moe_total
    return ConfigEstimate(
        kind,
        total,
        total,
        warnings=warnings,
        claimed_active=embed + base + moe_layers * moe_active,
    )


def _gpt2(cfg: Mapping[str, Any], kind: str, source: str) -> ConfigEstimate:
    d = _get(cfg, source, "n_embd", "hidden_size")
    layers = _get(cfg, source, "n_layer", "num_hidden_layers")
    vocab = _get(cfg, source, "vocab_size")
    positions = _get(cfg, source, "n_positions", "max_position_embeddings")
    inner = cfg.get("n_inner") or 4 * d
    layer = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * inner + inner) + (inner * d + d)
    total = vocab * d + positions * d + layers * layer + 2 * d
    return ConfigEstimate(kind, total, total)


def _gpt_neox(cfg: Mapping[str, Any], kind: str, source: str) -> ConfigEstimate:
    d = _get(cfg, source, "hidden_size")
    layers = _get(cfg, source, "num_hidden_layers")
    vocab = _get(cfg, source, "vocab_size")
    ff = _get(cfg, source, "intermediate_size", default=4 * d)
    layer = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d)
    embed = vocab * d * (1 if cfg.get("tie_word_embeddings") else 2)
    total = embed + layers * layer + 2 * d
    return ConfigEstimate(kind, total, total)


def _t5(cfg: Mapping[str, Any], kind: str, source: str) -> ConfigEstimate:
    d = _get(cfg, source, "d_model")
    d_kv = _get(cfg, source, "d_kv")
    heads = _get(cfg, source, "num_heads")
    d_ff = _get(cfg, source, "d_ff")
    enc_layers = _get(cfg, source, "num_layers")
    dec_layers = _get(cfg, source, "num_decoder_layers", default=enc_layers)
    vocab = _get(cfg, source, "vocab_size")
    buckets = _get(cfg, source, "relative_attention_num_buckets", default=32)
    gated = str(cfg.get("feed_forward_proj", "relu")).startswith("gated")
    attn = 4 * d * heads * d_kv
    ffn = (3 if gated else 2) * d * d_ff
    encoder = enc_layers * (attn + ffn + 2 * d) + buckets * heads + d
    decoder = dec_layers * (2 * attn + ffn + 3 * d) + buckets * heads + d
    shared = vocab * d
    lm_head = 0 if cfg.get("tie_word_embeddings", True) else vocab * d
    total = shared + encoder + decoder + lm_head
    # The shared embedding serves both stacks; the output head belongs to the decoder.
    return ConfigEstimate(kind, total, total, encoder=encoder, decoder=decoder + lm_head)


_ESTIMATORS = {
    "deepseek_v3": _deepseek,
    "deepseek_v2": _deepseek,
    "gpt2": _gpt2,
    "gpt_neox": _gpt_neox,
    "t5": _t5,
    "mt5": _t5,
}


def estimate_from_config(config: Mapping[str, Any], source: str = "config.json") -> ConfigEstimate:
    """Total and active parameters from a config; raises MetadataError if it cannot."""
    cfg = text_config(config)
    kind = str(cfg.get("model_type") or config.get("model_type") or "").lower()
    if kind in _ESTIMATORS:
        return _ESTIMATORS[kind](cfg, kind, source)
    if kind in LLAMA_LIKE or kind in NON_GATED_MLP:
        return _llama_like(cfg, kind, source)
    if all(k in cfg for k in ("hidden_size", "num_hidden_layers", "vocab_size")):
        estimate = _llama_like(cfg, kind or "unknown", source)
        note = f"architecture {kind or 'unknown'!r} estimated with the Llama formula"
        return ConfigEstimate(
            estimate.architecture,
            estimate.total,
            estimate.active,
            warnings=(note,),
            claimed_active=estimate.claimed_active,
        )
    raise MetadataError(
        source, f"cannot estimate parameters for architecture {kind or 'unknown'!r}"
    )
