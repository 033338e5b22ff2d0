"""The demo shows the common path: its models load in transformers, through the gate too."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gate.crypto.keys import public_keys_from_jwks
from gate.demo import generate
from gate.demo.run import run_demo
from gate.demo.tiny_models import llama_files


@pytest.mark.slow
@pytest.mark.parametrize("shards", [1, 2])
def test_tiny_llama_loads_and_generates_in_transformers(tmp_path: Path, shards: int) -> None:
    pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for path, data in llama_files(5, shards=shards).items():
        (tmp_path / path).write_bytes(data)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    ids = tokenizer("the gate decides", return_tensors="pt")["input_ids"]
    assert ids.shape[1] == 3 and tokenizer.unk_token_id not in ids[0].tolist()
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    out = model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape[1] == 7
    assert tokenizer.decode(out[0][:3]) == "the gate decides"


@pytest.fixture
def hub_logging() -> Iterator[None]:
    """The demo quiets huggingface_hub's logger for its table; give later tests it back."""
    hub = logging.getLogger("huggingface_hub")
    level = hub.level
    yield
    hub.setLevel(level)


@pytest.mark.slow
@pytest.mark.usefixtures("hub_logging")
def test_demo_generates_for_the_allowed_and_shows_the_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    code = run_demo(keep_running=False, as_json=True, workdir=tmp_path, database_url=None)
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["transformers"]
    allowed, refused = result["allowed"], result["refused"]
    assert allowed["prompt"] == generate.PROMPT and allowed["generated"].strip()
    assert "generated" not in refused
    assert refused["gate"].startswith("gate: deny (presumption_of_denial) for acme/frontier-x")


def test_without_torch_the_step_is_skipped_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(generate, "missing_packages", lambda: ["torch"])
    result = generate.run_generation("http://127.0.0.1:9", "acme/frontier-x", ("a", "b"), tmp_path)
    assert list(result) == ["skipped"] and "\n" not in result["skipped"]
    assert "torch" in result["skipped"]


@pytest.mark.slow
@pytest.mark.usefixtures("hub_logging")
def test_keep_running_json_gives_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, object] = {}

    def wait() -> None:
        first = json.loads(capsys.readouterr().out.strip().splitlines()[0])
        seen.update(first)
        keys = httpx.get(f"{first['endpoint']}/.well-known/gate-keys.json").json()
        seen["served"] = public_keys_from_jwks(keys)

    code = run_demo(keep_running=True, as_json=True, workdir=tmp_path, database_url=None, wait=wait)
    assert code == 0
    pem = Path(str(seen["public_key_pem"]))
    assert pem.is_file() and pem.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(pem.read_bytes())
    served = seen["served"]
    assert isinstance(served, dict)
    assert any(k.public_numbers() == key.public_numbers() for k in served.values())  # type: ignore[attr-defined]
