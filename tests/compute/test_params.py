"""Parameter counts: config formulas against published totals, MoE, shards, quantized files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.compute.config_estimate import estimate_from_config
from gate.compute.params import count_from_config, count_from_headers
from gate.compute.safetensors_header import DTYPE_BITS, parse_header, read_local_header
from gate.errors import MetadataError
from tests.compute.helpers import header_only, save_tensors

# Published parameter counts (model cards / papers) and the configs those checkpoints ship.
CONFIGS = {
    "llama3-8b": (
        8.03e9,
        None,
        dict(model_type="llama", hidden_size=4096, num_hidden_layers=32, vocab_size=128256,
             num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336),
    ),
    "llama3.1-405b": (
        405.85e9,
        None,
        dict(model_type="llama", hidden_size=16384, num_hidden_layers=126, vocab_size=128256,
             num_attention_heads=128, num_key_value_heads=8, intermediate_size=53248),
    ),
    "mistral-7b": (
        7.24e9,
        None,
        dict(model_type="mistral", hidden_size=4096, num_hidden_layers=32, vocab_size=32000,
             num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336),
    ),
    "mixtral-8x7b": (
        46.7e9,
        12.9e9,
        dict(model_type="mixtral", hidden_size=4096, num_hidden_layers=32, vocab_size=32000,
             num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336,
             num_local_experts=8, num_experts_per_tok=2),
    ),
    "deepseek-v3": (
        671e9,
        37e9,
        dict(model_type="deepseek_v3", hidden_size=7168, num_hidden_layers=61,
             vocab_size=129280, num_attention_heads=128, qk_nope_head_dim=128,
             qk_rope_head_dim=64, v_head_dim=128, kv_lora_rank=512, q_lora_rank=1536,
             intermediate_size=18432, moe_intermediate_size=2048, n_routed_experts=256,
             num_experts_per_tok=8, n_shared_experts=1, first_k_dense_replace=3),
    ),
    "qwen2-7b": (
        7.62e9,
        None,
        dict(model_type="qwen2", hidden_size=3584, num_hidden_layers=28, vocab_size=152064,
             num_attention_heads=28, num_key_value_heads=4, intermediate_size=18944),
    ),
    "qwen3-8b": (
        8.19e9,
        None,
        dict(model_type="qwen3", hidden_size=4096, num_hidden_layers=36, vocab_size=151936,
             num_attention_heads=32, num_key_value_heads=8, head_dim=128,
             intermediate_size=12288, tie_word_embeddings=False),
    ),
    "gemma-7b": (
        8.54e9,
        None,
        dict(model_type="gemma", hidden_size=3072, num_hidden_layers=28, vocab_size=256000,
             num_attention_heads=16, num_key_value_heads=16, head_dim=256,
             intermediate_size=24576),
    ),
    "gpt2": (
        124.44e6,
        None,
        dict(model_type="gpt2", n_embd=768, n_layer=12, n_head=12, vocab_size=50257,
             n_positions=1024),
    ),
    "gpt-neox-20b": (
        20.55e9,
        None,
        dict(model_type="gpt_neox", hidden_size=6144, num_hidden_layers=44, vocab_size=50432,
             intermediate_size=24576),
    ),
    "t5-11b": (
        11.3e9,
        None,
        dict(model_type="t5", d_model=1024, d_kv=128, num_heads=128, d_ff=65536, num_layers=24,
             vocab_size=32128),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_estimates_match_published_counts(name: str) -> None:
    total, active, config = CONFIGS[name]
    estimate = estimate_from_config(config)
    assert estimate.total == pytest.approx(total, rel=0.01)
    assert estimate.active == estimate.total  # a config's top-k is a claim: all experts count
    claimed = estimate.claimed_active or estimate.total
    assert claimed == pytest.approx(active or total, rel=0.02)


def test_t5_splits_encoder_and_decoder() -> None:
    count = count_from_config(CONFIGS["t5-11b"][2])
    assert count.encoder is not None and count.decoder is not None
    assert count.encoder + count.decoder < count.total  # the shared embedding is in neither


def test_unknown_architecture() -> None:
    with pytest.raises(MetadataError, match="cannot estimate parameters for architecture 'rwkv'"):
        estimate_from_config({"model_type": "rwkv"})
    generic = estimate_from_config(
        {"model_type": "newthing", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100,
         "num_attention_heads": 4, "intermediate_size": 128}
    )  # fmt: skip
    assert generic.total > 0 and "Llama formula" in generic.warnings[0]


def test_config_missing_field_is_clear() -> None:
    with pytest.raises(
        MetadataError, match=r"config\.json: missing or invalid field 'hidden_size'"
    ):
        estimate_from_config({"model_type": "llama"})


def _moe_tensors(shared: bool) -> dict[str, tuple[int, ...]]:
    tensors: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (100, 16)}
    for layer in range(2):
        p = f"model.layers.{layer}.mlp"
        tensors[f"{p}.gate.weight"] = (4, 16)
        for e in range(4):
            tensors[f"{p}.experts.{e}.up_proj.weight"] = (32, 16)
            tensors[f"{p}.experts.{e}.down_proj.weight"] = (16, 32)
        if shared:
            tensors[f"{p}.shared_experts.up_proj.weight"] = (32, 16)
    return tensors


def test_moe_active_parameters_from_tensor_names(tmp_path: Path) -> None:
    path = tmp_path / "moe.safetensors"
    total = save_tensors(path, _moe_tensors(shared=True))
    config = {"num_local_experts": 4, "num_experts_per_tok": 1}
    count = count_from_headers([read_local_header(path)], config)
    routed = 2 * 4 * 2 * 32 * 16
    assert count.total == total
    assert count.moe is not None and count.moe.experts == 4
    assert count.moe.routed_parameters == routed  # shared experts are not routed
    assert count.active == total  # top-1 is the config's claim: every expert counts
    assert count.claimed_active == total - routed + routed // 4
    assert any("every expert counted as active" in w for w in count.warnings)


@pytest.mark.parametrize(
    "claims",
    [
        {"num_local_experts": 1_000_000, "num_experts_per_tok": 8},
        {"num_local_experts": 4, "num_experts_per_tok": 1},
        {"n_routed_experts": 10**9, "moe_topk": 1, "text_config": {"num_experts": 7}},
        {"num_experts": 0, "num_experts_per_tok": 0},
        {},
    ],
)
def test_config_claims_never_lower_the_active_count(
    tmp_path: Path, claims: dict[str, object]
) -> None:
    path = tmp_path / "moe.safetensors"
    total = save_tensors(path, _moe_tensors(shared=False))
    count = count_from_headers([read_local_header(path)], claims)
    assert count.total == count.active == total
    assert count.moe is not None and count.moe.experts == 4  # from the tensor names


def test_expert_count_comes_from_the_names_present(tmp_path: Path) -> None:
    path = tmp_path / "moe.safetensors"
    tensors = {
        "model.layers.0.mlp.experts.0.w1.weight": (8, 4),
        "model.layers.0.mlp.experts.999999.w1.weight": (8, 4),
    }
    total = save_tensors(path, tensors)
    count = count_from_headers([read_local_header(path)], {"num_experts_per_tok": 1})
    assert count.moe is not None and count.moe.experts == 2  # not 1,000,000
    assert count.active == total


def test_moe_without_top_k_takes_total_as_active(tmp_path: Path) -> None:
    path = tmp_path / "moe.safetensors"
    total = save_tensors(path, _moe_tensors(shared=False))
    count = count_from_headers([read_local_header(path)], None)
    assert count.moe is not None and count.moe.experts == 4  # from the indices
    assert count.active == total
    assert count.claimed_active is None
    assert "every expert counted as active" in count.warnings[0]


def test_fused_experts_use_first_dimension() -> None:
    prefix, size = header_only(
        {"embed": ("BF16", [10, 8]), "layers.0.mlp.experts.gate_up_proj": ("BF16", [8, 8, 16])},
        DTYPE_BITS,
    )
    header = parse_header(prefix, "fused", size)
    count = count_from_headers([header], {"num_experts_per_tok": 2})
    assert count.moe is not None and count.moe.experts == 8
    assert count.active == count.total == 80 + 8 * 8 * 16
    assert count.claimed_active == 80 + 8 * 8 * 16 * 2 // 8


def test_shards_sum_and_duplicates_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    n = save_tensors(a, {"x": (10, 10)}) + save_tensors(b, {"y": (5,)})
    count = count_from_headers([read_local_header(a), read_local_header(b)])
    assert count.total == count.active == n and count.files == 2
    save_tensors(b, {"x": (5,)})
    with pytest.raises(MetadataError, match="'x' also appears in"):
        count_from_headers([read_local_header(a), read_local_header(b)])


def test_quantized_checkpoint_uses_larger_config_count(tmp_path: Path) -> None:
    path = tmp_path / "q.safetensors"
    save_tensors(path, {"model.layers.0.mlp.qweight": (8, 8)})
    config = {**CONFIGS["gpt2"][2], "quantization_config": {"bits": 4}}
    count = count_from_headers([read_local_header(path)], config)
    assert count.total == pytest.approx(124.44e6, rel=0.01)
    assert any("quantized" in w for w in count.warnings)


def test_unknown_architecture_counts_experts_and_never_undercounts() -> None:
    mixtral = dict(CONFIGS["mixtral-8x7b"][2])
    known = estimate_from_config(mixtral)
    for key in ("num_local_experts", "num_experts", "n_routed_experts"):
        renamed = {k: v for k, v in mixtral.items() if k != "num_local_experts"}
        renamed.update({"model_type": "acme_moe", key: 8})
        unknown = estimate_from_config(renamed)
        assert unknown.total >= known.total  # read as MoE, not as a dense model
        assert unknown.active == unknown.total
    dense_reading = estimate_from_config({**mixtral, "model_type": "llama"})
    assert known.total > 3 * dense_reading.total


def test_unknown_architecture_reads_expert_width() -> None:
    base = dict(model_type="acme", hidden_size=64, num_hidden_layers=2, vocab_size=100,
                num_attention_heads=4, intermediate_size=128)  # fmt: skip
    dense = estimate_from_config(base)
    moe = estimate_from_config({**base, "n_routed_experts": 16, "moe_intermediate_size": 32,
                                "num_experts_per_tok": 1})  # fmt: skip
    assert moe.total >= dense.total + 2 * 16 * 3 * 64 * 32
    assert moe.active == moe.total
    assert moe.claimed_active is not None and moe.claimed_active < moe.total


def test_nemotron_mlp_has_no_gate() -> None:
    cfg = dict(model_type="nemotron", hidden_size=64, num_hidden_layers=2, vocab_size=100,
               num_attention_heads=4, intermediate_size=128)  # fmt: skip
    nemotron = estimate_from_config(cfg)
    gated = estimate_from_config({**cfg, "model_type": "llama"})
    assert gated.total - nemotron.total == 2 * 64 * 128  # one matrix fewer per layer
    plain = estimate_from_config({**cfg, "model_type": "acme", "mlp_type": "mlp"})
    swiglu = estimate_from_config({**cfg, "model_type": "acme", "mlp_type": "swiglu"})
    assert swiglu.total - plain.total == 2 * 64 * 128
