"""What the Hub's model info says about how to load a model: `pipeline_tag` and `library_name`.

`pipeline(model=REPO)` without a task asks the Hub for `pipeline_tag`, and refuses a model whose
`library_name` is not transformers. The Hub takes both from the model card or infers them from
the files; the gate infers them from the files and `config.json`'s `architectures` alone. They
only say how to load the model: nothing here is a fact any decision uses.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

MAX_CONFIG = 1 << 20
"""A larger `config.json` is not read for hints."""

_ARCHITECTURE_TASKS = (
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForMaskedLM", "fill-mask"),
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForImageClassification", "image-classification"),
)


def loading_hints(paths: Collection[str], config_text: bytes | None) -> dict[str, str]:
    """`library_name` and `pipeline_tag` for a commit's files, as far as they can be told."""
    hints: dict[str, str] = {}
    if "modules.json" in paths:
        return {"library_name": "sentence-transformers", "pipeline_tag": "sentence-similarity"}
    if "model_index.json" in paths:
        return {"library_name": "diffusers"}
    if "config.json" not in paths:
        return hints
    hints["library_name"] = "transformers"
    config: Any = None
    if config_text is not None:
        try:
            config = json.loads(config_text)
        except (UnicodeDecodeError, ValueError):
            config = None
    architectures = config.get("architectures") if isinstance(config, dict) else None
    if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
        for suffix, task in _ARCHITECTURE_TASKS:
            if architectures[0].endswith(suffix):
                hints["pipeline_tag"] = task
                break
    return hints
