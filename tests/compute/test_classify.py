"""Classification from a local folder and from a Hugging Face-compatible server (loopback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.compute.assemble import TrainingInputs
from gate.compute.classify import Classification, classify_from_parts, to_model_facts
from gate.compute.safetensors_header import DTYPE_BITS
from gate.core.ruleset import Ruleset
from gate.errors import MetadataError, NotFoundError, UpstreamAuthError
from gate.rules.loader import load_default_ruleset
from gate.service.classifying import classify_target
from tests.compute.fake_hub import COMMIT, FakeHub, FakeRepo, VirtualFile, serve
from tests.compute.helpers import header_only, raw_file, save_tensors

RULES = load_default_ruleset()
CARD = "---\nlicense: apache-2.0\n---\n# A model\n"


def classify_remote(
    endpoint: str, repo_id: str, revision: str, token: str | None, rules: Ruleset
) -> Classification:
    """`gate classify REPO --endpoint URL` as the CLI calls it (no trusted declarer keys)."""
    return classify_target(
        repo_id,
        rules,
        {},
        endpoint=endpoint,
        revision=revision,
        token=token,
        inputs=TrainingInputs(),
    )


def classify_local(path: Path, rules: Ruleset) -> Classification:
    """`gate classify FOLDER`."""
    return classify_target(str(path), rules, {})


def _sharded_repo(shards: int, tensors_per_shard: int = 4, dim: int = 4096) -> FakeRepo:
    files: dict[str, bytes | VirtualFile] = {}
    weight_map: dict[str, str] = {}
    for s in range(shards):
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {f"layers.{s}.w{t}": ("BF16", [dim, dim]) for t in range(tensors_per_shard)}
        prefix, size = header_only(tensors, DTYPE_BITS)
        files[name] = VirtualFile(prefix, size)
        weight_map.update({t: name for t in tensors})
    files["model.safetensors.index.json"] = json.dumps({"weight_map": weight_map}).encode()
    files["config.json"] = json.dumps({"model_type": "llama"}).encode()
    files["README.md"] = CARD.encode()
    return FakeRepo(files)


def test_remote_sharded_reads_headers_only() -> None:
    hub = FakeHub({"org/big": _sharded_repo(6)})
    with serve(hub) as endpoint:
        result = classify_remote(endpoint, "org/big", "main", None, RULES)
    assert result.parameters_total == 6 * 4 * 4096 * 4096
    # The card says apache-2.0, but the endpoint is no configured publication source: a claim.
    assert result.published is None and "apache-2.0" in result.publication_evidence
    assert result.position == "below"  # 403M params x 100T tokens x 6 < 1e26
    weights = 6 * 4 * 4096 * 4096 * 2
    assert hub.sent_bytes < 6 * 70_000 < weights / 1000
    assert all("Range" not in r for r in hub.requests)  # sanity: paths only in the log


def test_remote_token_private_gated_and_errors() -> None:
    repo = _sharded_repo(1)
    repo.gated = "manual"
    hub = FakeHub({"org/gated": repo}, auth_token="s3cret")
    with serve(hub) as endpoint:
        with pytest.raises(UpstreamAuthError, match="HTTP 401"):
            classify_remote(endpoint, "org/gated", "main", None, RULES)
        result = classify_remote(endpoint, "org/gated", "main", "s3cret", RULES)
        assert result.published is False and "manual" in result.publication_evidence
        with pytest.raises(NotFoundError):
            classify_remote(endpoint, "org/missing", "main", "s3cret", RULES)


def test_remote_server_ignoring_range_is_not_downloaded() -> None:
    prefix, size = header_only({"w": ("F32", [8192, 8192])}, DTYPE_BITS)
    hub = FakeHub({"org/one": FakeRepo({"model.safetensors": VirtualFile(prefix, size)})})
    hub.ignore_range = True
    with serve(hub) as endpoint:
        result = classify_remote(endpoint, "org/one", "main", None, RULES)
    assert result.parameters_total == 8192 * 8192
    assert result.published is None  # no card, no license


@pytest.mark.slow
def test_remote_large_header_takes_a_second_read() -> None:
    tensors = {f"t{i:05d}.weight": ("F16", [2]) for i in range(2500)}  # header > 64 KiB
    prefix, size = header_only(tensors, DTYPE_BITS)
    assert len(prefix) > 64 * 1024
    hub = FakeHub({"org/many": FakeRepo({"model.safetensors": VirtualFile(prefix, size)})})
    with serve(hub) as endpoint:
        result = classify_remote(endpoint, "org/many", "refs/pr/1", None, RULES)
    assert result.parameters_total == 5000
    assert any("refs%2Fpr%2F1" in r for r in hub.requests)


def test_remote_bad_header_names_the_file() -> None:
    hub = FakeHub({"org/bad": FakeRepo({"model.safetensors": raw_file(b"{oops")})})
    with (
        serve(hub) as endpoint,
        pytest.raises(MetadataError, match=r"org/bad@[0-9a-f]{40}/model\.safetensors"),
    ):
        classify_remote(endpoint, "org/bad", "main", None, RULES)


def test_local_folder_with_index_config_and_card(tmp_path: Path) -> None:
    n = save_tensors(tmp_path / "model-1.safetensors", {"a": (100, 10)})
    n += save_tensors(tmp_path / "model-2.safetensors", {"b": (50,)})
    weight_map = {"a": "model-1.safetensors", "b": "model-2.safetensors"}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "README.md").write_text(
        "---\nlicense: llama3.1\nbase_model: acme/closed-base\ntraining_tokens: 1B\n---\n"
    )
    result = classify_local(tmp_path, RULES)
    assert result.parameters_total == n
    assert result.base_model == "acme/closed-base"
    assert result.published is None  # the card's license is a claim, not evidence
    assert "llama3.1" in result.publication_evidence
    # Own training counted, the base's unknown: the child's own size cannot settle it.
    assert result.position == "undetermined" and result.compute.high is None
    assert any("acme/closed-base" in w for w in result.warnings)
    facts = to_model_facts(result, "org/ft", "main", COMMIT)
    assert facts.training_compute == result.compute and facts.published is None


def test_local_folder_with_a_known_base_adds_its_compute(tmp_path: Path) -> None:
    save_tensors(tmp_path / "model.safetensors", {"a": (100, 10)})
    (tmp_path / "README.md").write_text("---\nbase_model: Meta-Llama/llama-3.1-8b\n---\n")
    result = classify_local(tmp_path, RULES)
    # Llama 3.1 8B from the known-models table (7.5e23-1.13e24) plus this model's own bound.
    assert result.compute.low == pytest.approx(7.5e23)
    assert result.compute.high is not None and 1.13e24 < result.compute.high < 1.2e24
    assert result.position == "below" and "lineage" in result.compute.method
    assert any("known-models table" in e for e in result.compute.evidence)


def test_local_config_only_and_missing_shard(tmp_path: Path) -> None:
    config = {"model_type": "llama", "hidden_size": 16384, "num_hidden_layers": 126,
              "vocab_size": 128256, "num_attention_heads": 128, "num_key_value_heads": 8,
              "intermediate_size": 53248}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = classify_local(tmp_path, RULES)
    assert result.parameters_total == pytest.approx(405.85e9, rel=0.001)
    assert result.position == "undetermined" and result.settle and "--tokens" in result.settle
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "x.safetensors"}})
    )
    with pytest.raises(MetadataError, match="shards that do not exist"):
        classify_local(tmp_path, RULES)


def test_from_parts_with_raw_header_bytes() -> None:
    prefix, size = header_only({"w": ("BF16", [1000, 1000])}, DTYPE_BITS)
    result = classify_from_parts(
        RULES, headers=[("repo/model.safetensors", prefix, size)], card_text=CARD,
        repo_info={"private": True},
    )  # fmt: skip
    assert result.parameters_total == 1_000_000
    assert result.published is False and "private" in result.publication_evidence


@pytest.mark.parametrize(
    "card",
    [
        "---\nlicense: other\ntraining_compute_operations: 1e22\n---\n",  # an unsigned card claim
        "---\nlicense: other\ntraining_compute_operations: 3e26\n---\n",
    ],
)
def test_an_unsigned_figure_cannot_clear_a_model_its_size_may_make_controlled(card: str) -> None:
    """A 405B-parameter architecture may have been trained past 1e26 (its upper bound is 2.4e26):
    a card's unsigned figure may say "more" but never settle "below" on its own."""
    config = {"model_type": "llama", "hidden_size": 16384, "num_hidden_layers": 126,
              "vocab_size": 128256, "num_attention_heads": 128, "num_key_value_heads": 8,
              "intermediate_size": 53248}  # fmt: skip
    result = classify_from_parts(RULES, config=config, card_text=card)
    assert result.position != "below"
    assert result.compute.high is None or result.compute.high >= RULES.threshold_operations


@pytest.mark.parametrize(
    "claims",
    [
        "training_tokens: 1e9",  # counting with a claimed token count
        "training_hardware: {chip: H100, count: 8, days: 1}",  # hardware, as claimed
    ],
)
def test_unsigned_tokens_or_hardware_cannot_clear_a_large_model(claims: str) -> None:
    config = {"model_type": "llama", "hidden_size": 16384, "num_hidden_layers": 126,
              "vocab_size": 128256, "num_attention_heads": 128, "num_key_value_heads": 8,
              "intermediate_size": 53248}  # fmt: skip
    card = f"---\nlicense: other\n{claims}\n---\n"
    assert classify_from_parts(RULES, config=config, card_text=card).position != "below"
    # The operator's own numbers (gate estimate flags) are not claims: they settle it.
    from gate.compute.assemble import TrainingInputs

    given = classify_from_parts(RULES, config=config, inputs=TrainingInputs(tokens=1e9))
    assert given.position == "below"
