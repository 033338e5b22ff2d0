"""Run as a script in a fresh process (HF_ENDPOINT and HF_TOKEN in the environment): load a
model the way its users do and print one JSON object, one key per step, errors as text."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def _step(out: dict[str, Any], name: str, run: Callable[[], Any]) -> None:
    try:
        out[name] = run()
    except Exception as exc:  # reported to the test, which decides
        out[name] = {"error": f"{type(exc).__name__}: {exc}"}


def causal(repo: str) -> dict[str, Any]:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, pipeline

    out: dict[str, Any] = {}
    _step(out, "config", lambda: AutoConfig.from_pretrained(repo).model_type)
    _step(out, "tokenizer", lambda: AutoTokenizer.from_pretrained(repo)("hello world")["input_ids"])
    _step(out, "model", lambda: type(AutoModelForCausalLM.from_pretrained(repo)).__name__)

    def generate() -> str:
        generator = pipeline("text-generation", model=repo)
        result = generator("hello world", max_new_tokens=3, do_sample=False)
        return str(result[0]["generated_text"])

    _step(out, "pipeline", generate)

    def inferred_task() -> str:  # no task given: transformers asks the hub's pipeline_tag
        result = pipeline(model=repo)("hello world", max_new_tokens=2, do_sample=False)
        return str(result[0]["generated_text"])

    _step(out, "pipeline_without_task", inferred_task)
    return out


def sentence(repo: str) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    out: dict[str, Any] = {}
    _step(
        out,
        "encode",
        lambda: list(SentenceTransformer(repo, device="cpu").encode(["hello world"]).shape),
    )
    return out


def diffusion(repo: str) -> dict[str, Any]:
    from diffusers import DDPMPipeline

    out: dict[str, Any] = {}

    def sample() -> list[int]:
        pipe = DDPMPipeline.from_pretrained(repo)
        return list(pipe(num_inference_steps=2, output_type="np").images.shape)

    _step(out, "sample", sample)
    return out


if __name__ == "__main__":
    kind, name = sys.argv[1], sys.argv[2]
    loaders = {"causal": causal, "sentence": sentence, "diffusion": diffusion}
    print("RESULT " + json.dumps(loaders[kind](name)))
