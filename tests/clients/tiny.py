"""Tiny REAL models, built offline: a 2-layer Llama and a BERT-style sentence encoder.

Random weights written by `save_pretrained`; tokenizers built with the `tokenizers` library
from a small vocabulary and wrapped as `PreTrainedTokenizerFast`. Needs torch and transformers.
"""

from __future__ import annotations

from pathlib import Path

WORDS = [
    "hello",
    "world",
    "the",
    "gate",
    "model",
    "weights",
    "export",
    "license",
    "allied",
    "recipient",
    "answer",
    "question",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
]


def _tokenizer(special: list[str], unk: str, **kwargs: str):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*special, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=unk, **kwargs), len(vocab)


def llama(folder: Path) -> dict[str, bytes]:
    """A 2-layer Llama for causal LM with its tokenizer; returns the folder's files."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer, size = _tokenizer(
        ["<unk>", "<s>", "</s>"], "<unk>", bos_token="<s>", eos_token="</s>"
    )
    config = LlamaConfig(
        vocab_size=size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return _files(folder)


def encoder(folder: Path) -> dict[str, bytes]:
    """A BERT-style encoder saved as a sentence-transformers model (mean pooling)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer, size = _tokenizer(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        "[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    raw = folder.with_name(folder.name + "-raw")
    BertModel(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    body = Transformer(str(raw), max_seq_length=32)
    pooling = Pooling(body.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[body, pooling], device="cpu").save(str(folder))
    return _files(folder)


def diffusion(folder: Path) -> dict[str, bytes]:
    """A DDPM pipeline (a tiny UNet and its scheduler) as diffusers saves it."""
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=8,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    )
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=10)).save_pretrained(folder)
    return _files(folder)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
