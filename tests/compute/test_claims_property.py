"""Claims never lower the high end (RULES.md): a property over random cards and configs.

The weights' own headers fix what the gate measured. Whatever an uploader then writes in the
model card (compute, tokens, hardware, license, base model) or in config.json (expert counts,
experts per token, shared experts, architecture), the high end of the interval never drops below
the one computed from the headers alone. An unknown high end (None) counts as infinitely high.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.compute.classify import classify_from_parts
from gate.compute.safetensors_header import DTYPE_BITS
from gate.errors import GateError
from gate.rules.loader import load_default_ruleset
from tests.compute.helpers import header_only

RULES = load_default_ruleset()


def _moe_headers(experts: int, dim: int) -> list[tuple[str, bytes, int]]:
    tensors = {"model.embed_tokens.weight": ("BF16", [32000, dim])}
    for layer in range(4):
        p = f"model.layers.{layer}"
        tensors[f"{p}.self_attn.q_proj.weight"] = ("BF16", [dim, dim])
        tensors[f"{p}.mlp.gate.weight"] = ("BF16", [experts, dim])
        for e in range(experts):
            for proj in ("gate_proj", "up_proj", "down_proj"):
                tensors[f"{p}.mlp.experts.{e}.{proj}.weight"] = ("BF16", [4 * dim, dim])
    prefix, size = header_only(tensors, DTYPE_BITS)
    return [("model.safetensors", prefix, size)]


def _high(result: Any) -> float:
    high = result.compute.high
    return float("inf") if high is None else float(high)


numbers = st.floats(min_value=1.0, max_value=1e30, allow_nan=False, allow_infinity=False)
card_fields = st.fixed_dictionaries(
    {},
    optional={
        "license": st.sampled_from(["apache-2.0", "mit", "other", "llama3.1"]),
        "training_compute_operations": numbers,
        "training_tokens": numbers,
        "training_hardware": st.fixed_dictionaries(
            {"chip": st.sampled_from(["H100", "A100", "B200"])},
            optional={"count": st.integers(1, 100_000), "days": st.integers(1, 400)},
        ),
        "base_model": st.sampled_from(["acme/secret-base", "meta-llama/Llama-3.1-8B"]),
    },
)
config_fields = st.fixed_dictionaries(
    {},
    optional={
        "model_type": st.sampled_from(["mixtral", "qwen2_moe", "deepseek_v3", "acme", "llama"]),
        "num_local_experts": st.integers(1, 10**7),
        "num_experts": st.integers(0, 10**7),
        "n_routed_experts": st.integers(1, 10**7),
        "num_experts_per_tok": st.integers(0, 64),
        "moe_topk": st.integers(1, 64),
        "n_shared_experts": st.integers(0, 8),
        "quantization_config": st.just({"quant_method": "gptq"}),
        "hidden_size": st.integers(1, 64),
        "num_hidden_layers": st.integers(1, 4),
        "vocab_size": st.integers(1, 1000),
        "num_attention_heads": st.integers(1, 8),
        "intermediate_size": st.integers(1, 64),
    },
)


@settings(max_examples=150, deadline=None)
@given(
    experts=st.integers(2, 16),
    dim=st.sampled_from([256, 2048, 8192]),
    card=card_fields,
    config=config_fields,
)
def test_claims_never_lower_the_high_end(
    experts: int, dim: int, card: dict[str, Any], config: dict[str, Any]
) -> None:
    headers = _moe_headers(experts, dim)
    measured = classify_from_parts(RULES, headers=headers)
    card_text = "---\n" + yaml.safe_dump(card) + "---\n# Model\n" if card else None
    try:
        claimed = classify_from_parts(
            RULES,
            headers=headers,
            config=json.loads(json.dumps(config)) if config else None,
            card_text=card_text,
        )
    except GateError:
        return  # an unreadable claim leaves the model unclassified: every fact unknown, a hold
    assert _high(claimed) >= _high(measured), (card, config)
    assert (claimed.parameters_active or 0) >= (measured.parameters_active or 0)


def test_the_issues_examples() -> None:
    headers = _moe_headers(8, 8192)
    measured = _high(classify_from_parts(RULES, headers=headers))
    for config in (
        {"num_local_experts": 1_000_000, "num_experts_per_tok": 8},
        {"num_local_experts": 8, "num_experts_per_tok": 1},
    ):
        assert _high(classify_from_parts(RULES, headers=headers, config=config)) >= measured
    card = "---\nbase_model: acme/closed-2t\ntraining_compute_operations: 1e20\n---\n"
    assert classify_from_parts(RULES, headers=headers, card_text=card).compute.high is None
