"""Tiny REAL models for the demo, written with numpy alone (no torch needed to make them).

A Llama for causal language modelling as `LlamaForCausalLM.save_pretrained` would write it:
`config.json`, `generation_config.json`, the weights under the tensor names transformers loads
(one file, or shards with their index), and a word-level tokenizer in the `tokenizers` JSON format
with its `tokenizer_config.json`. Shapes agree with the config (16 wide, 2 heads of 8, 1 key/value
head), so `AutoModelForCausalLM.from_pretrained` and `pipeline("text-generation")` load it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
from safetensors.numpy import save

SPECIAL = ("<unk>", "<s>", "</s>")
WORDS = [
    "the",
    "gate",
    "decides",
    "who",
    "may",
    "receive",
    "model",
    "weights",
    "and",
    "why",
    "export",
    "license",
    "allied",
    "recipient",
    "hello",
    "world",
    "a",
    "an",
    "is",
    "of",
    "to",
    "in",
    "for",
    "on",
    "with",
    "this",
    "that",
    "it",
    "as",
    "by",
    "at",
    "from",
]
VOCAB = {w: i for i, w in enumerate(dict.fromkeys([*SPECIAL, *WORDS]))}

HIDDEN = 16
HEADS = 2
KV_HEADS = 1
INTERMEDIATE = 32
LAYERS = 2


def config(*, layers: int = LAYERS) -> dict[str, object]:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": len(VOCAB),
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": layers,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": HIDDEN // HEADS,
        "max_position_embeddings": 64,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "bos_token_id": VOCAB["<s>"],
        "eos_token_id": VOCAB["</s>"],
        "torch_dtype": "float32",
    }


def tensors(seed: int, *, layers: int = LAYERS) -> dict[str, np.ndarray]:
    """Random weights under LlamaForCausalLM's names and shapes."""
    rng = np.random.default_rng(seed)
    kv = KV_HEADS * (HIDDEN // HEADS)
    vocab = len(VOCAB)

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    out = {"model.embed_tokens.weight": rand(vocab, HIDDEN)}
    for i in range(layers):
        p = f"model.layers.{i}."
        out |= {
            p + "self_attn.q_proj.weight": rand(HIDDEN, HIDDEN),
            p + "self_attn.k_proj.weight": rand(kv, HIDDEN),
            p + "self_attn.v_proj.weight": rand(kv, HIDDEN),
            p + "self_attn.o_proj.weight": rand(HIDDEN, HIDDEN),
            p + "mlp.gate_proj.weight": rand(INTERMEDIATE, HIDDEN),
            p + "mlp.up_proj.weight": rand(INTERMEDIATE, HIDDEN),
            p + "mlp.down_proj.weight": rand(HIDDEN, INTERMEDIATE),
            p + "input_layernorm.weight": np.ones(HIDDEN, np.float32),
            p + "post_attention_layernorm.weight": np.ones(HIDDEN, np.float32),
        }
    out["model.norm.weight"] = np.ones(HIDDEN, np.float32)
    out["lm_head.weight"] = rand(vocab, HIDDEN)
    return out


def tokenizer_files() -> dict[str, bytes]:
    """A word-level tokenizer (whitespace split) as `tokenizers` and transformers read it."""
    added = [
        {
            "id": VOCAB[t],
            "content": t,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for t in SPECIAL
    ]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        # Joins words with spaces (no word here starts with the "##" continuation prefix).
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": False},
        "model": {"type": "WordLevel", "vocab": VOCAB, "unk_token": "<unk>"},
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "model_max_length": 64,
        "clean_up_tokenization_spaces": False,
    }
    return {
        "tokenizer.json": json.dumps(tokenizer, indent=2).encode(),
        "tokenizer_config.json": json.dumps(tokenizer_config, indent=2).encode(),
    }


def llama_files(seed: int, *, shards: int = 1) -> dict[str, bytes]:
    """Every file of a tiny Llama repository: config, tokenizer, weights (sharded if asked)."""
    weights = tensors(seed)
    files = {
        "config.json": json.dumps(config(), indent=2).encode(),
        "generation_config.json": json.dumps(
            {"bos_token_id": VOCAB["<s>"], "eos_token_id": VOCAB["</s>"], "do_sample": False}
        ).encode(),
        **tokenizer_files(),
    }
    if shards == 1:
        files["model.safetensors"] = bytes(save(weights))
        return files
    names = list(weights)
    groups = [names[i::shards] for i in range(shards)]
    weight_map: dict[str, str] = {}
    for number, group in enumerate(groups, start=1):
        shard = f"model-{number:05d}-of-{shards:05d}.safetensors"
        files[shard] = bytes(save({n: weights[n] for n in group}))
        weight_map |= dict.fromkeys(group, shard)
    total = sum(int(w.nbytes) for w in weights.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    files["model.safetensors.index.json"] = json.dumps(index, indent=2).encode()
    return files


def weight_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The parameter files of a repository made here (what a compute declaration digests)."""
    return {p: b for p, b in files.items() if p.endswith(".safetensors")}
