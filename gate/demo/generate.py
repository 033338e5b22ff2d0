"""The demo's last step: load a model with transformers through the gate, as two recipients.

transformers reads `HF_ENDPOINT` when it is imported, so the loading runs in a fresh Python
process pointed at the demo's gate. The allowed recipient loads the tokenizer and the model and
generates a few tokens; the refused one makes the same call, and what it is shown (the error
transformers raises and the gate's reason, printed by huggingface_hub as a warning) is reported.
Without torch or transformers installed the step is skipped with a one-line note.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROMPT = "the gate decides"
_TOKENS = ("GATE_DEMO_ALLOWED_TOKEN", "GATE_DEMO_REFUSED_TOKEN")


def missing_packages() -> list[str]:
    return [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]


def run_generation(
    endpoint: str, repo_id: str, tokens: tuple[str, str], home: Path
) -> dict[str, Any]:
    """Load `repo_id` through the gate as (allowed, refused) recipients; returns what each saw."""
    missing = missing_packages()
    if missing:
        return {"skipped": f"{' and '.join(missing)} not installed (pip install '.[torch]')"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(home),
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        TRANSFORMERS_VERBOSITY="error",
        **dict(zip(_TOKENS, tokens, strict=True)),
    )
    done = subprocess.run(
        [sys.executable, "-m", "gate.demo.generate", repo_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"the transformers step failed: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _load(repo_id: str, token: str, cache: Path, warnings: _Warnings) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    warnings.lines.clear()
    try:
        # Each recipient its own cache, as on two machines: the client returns a cached file
        # without asking the server, so a shared cache would hand one's weights to the other.
        tokenizer = AutoTokenizer.from_pretrained(repo_id, token=token, cache_dir=cache)
        model = AutoModelForCausalLM.from_pretrained(repo_id, token=token, cache_dir=cache)
    except OSError as exc:
        gate = [line for line in warnings.lines if line.startswith("gate:")]
        return {"refused": str(exc).splitlines()[0], "gate": gate[-1] if gate else None}
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer)
    out = generator(
        PROMPT, max_new_tokens=6, min_new_tokens=6, do_sample=False, return_full_text=False
    )
    return {"prompt": PROMPT, "generated": str(out[0]["generated_text"]).strip()}


def main(repo_id: str) -> None:
    from transformers.utils import logging as tf_logging

    tf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    warnings = _Warnings()
    # huggingface_hub prints the gate's X-HF-Warning through this logger: keep it for the report.
    hub_logger = logging.getLogger("huggingface_hub")
    hub_logger.addHandler(warnings)
    hub_logger.propagate = False
    allowed, refused = (os.environ[name] for name in _TOKENS)
    home = Path(os.environ["HF_HOME"])
    result = {
        "allowed": _load(repo_id, allowed, home / "allowed", warnings),
        "refused": _load(repo_id, refused, home / "refused", warnings),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])


def render_generation(result: dict[str, Any], repo_id: str) -> None:
    """Print what each recipient saw when loading `repo_id` with transformers."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    if "skipped" in result:
        console.print(f"transformers step skipped: {escape(result['skipped'])}")
        return
    console.print(f"\ntransformers through the gate: AutoModelForCausalLM + pipeline on {repo_id}")
    allowed, refused = result["allowed"], result["refused"]
    if "generated" in allowed:
        console.print(
            f"  [green]allowed[/] (Nordic AI AB): {allowed['prompt']!r} -> "
            f"{escape(repr(allowed['generated']))}"
        )
    else:
        console.print(f"  [red]allowed recipient failed[/]: {escape(str(allowed))}")
    if "refused" in refused:
        console.print(f"  [red]refused[/] (Shenzhen Vision Co): {escape(refused['refused'])}")
        console.print(f"    the gate's reason, shown by the client: {escape(str(refused['gate']))}")
    else:
        console.print(f"  [red]the refused recipient got the model[/]: {escape(str(refused))}")
