"""The client matrix: each client the ecosystem uses, through the real gate, allowed and refused.

Nordic AI AB (Sweden) may have both designated models (License Exception AIA); Shenzhen Vision
Co (China) may not (presumption of denial). Files that are not parameters (config, tokenizer)
reach both; parameter files reach only Nordic, and the refusal shows the gate's reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError

from gate.crypto.snapshot_bundle import SIDECAR_PATH
from tests.clients.conftest import DIFFUSION, ENCODER, LLAMA, World, run_client

pytestmark = pytest.mark.slow

REASON = "deny (presumption_of_denial)"


def _loaded(world: World, who: str, home: Path, kind: str, repo: str) -> tuple[dict[str, Any], str]:
    script = str(Path(__file__).with_name("load_client.py"))
    done = run_client(world, who, home, script, kind, repo)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :]), done.stderr


def test_hf_hub_download_and_snapshot(world: World, tmp_path: Path) -> None:
    for repo, files in world.files.items():
        got = snapshot_download(
            repo, endpoint=world.url, token=world.tokens["allowed"], cache_dir=tmp_path / "a"
        )
        for path, data in files.items():
            assert (Path(got) / path).read_bytes() == data, (repo, path)
    with pytest.raises(GatedRepoError, match=r"deny \(presumption_of_denial\)"):
        hf_hub_download(
            LLAMA,
            "model.safetensors",
            endpoint=world.url,
            token=world.tokens["refused"],
            cache_dir=tmp_path / "r",
        )
    config = hf_hub_download(
        LLAMA, "config.json", endpoint=world.url, token=world.tokens["refused"], cache_dir=tmp_path
    )
    assert Path(config).read_bytes() == world.files[LLAMA]["config.json"]
    with pytest.raises(GatedRepoError, match=r"deny \(presumption_of_denial\)"):
        snapshot_download(
            LLAMA, endpoint=world.url, token=world.tokens["refused"], cache_dir=tmp_path / "s"
        )


def test_safetensors_metadata_for_both(world: World) -> None:
    counts = set()
    for who in ("allowed", "refused"):
        meta = HfApi(endpoint=world.url, token=world.tokens[who]).get_safetensors_metadata(LLAMA)
        counts.add(sum(meta.parameter_count.values()))
    assert len(counts) == 1 and counts.pop() > 0


def test_hf_file_system(world: World) -> None:
    fs = HfFileSystem(endpoint=world.url, token=world.tokens["allowed"])
    listed = sorted(fs.ls(LLAMA, detail=False))
    # The gate adds its signed snapshot bundle to every listing.
    assert listed == sorted(f"{LLAMA}/{p}" for p in [*world.files[LLAMA], SIDECAR_PATH])
    info = fs.info(f"{LLAMA}/model.safetensors")
    assert info["type"] == "file" and info["size"] == len(world.files[LLAMA]["model.safetensors"])
    assert fs.info(f"{ENCODER}/1_Pooling")["type"] == "directory"
    assert fs.glob(f"{ENCODER}/**/config.json") == sorted(
        f"{ENCODER}/{p}" for p in world.files[ENCODER] if p.rsplit("/", 1)[-1] == "config.json"
    )
    weights = world.files[LLAMA]["model.safetensors"]
    with fs.open(f"{LLAMA}/model.safetensors", block_size=64) as handle:
        handle.seek(100)
        assert handle.read(50) == weights[100:150]
    assert not fs.exists(f"{LLAMA}/missing.json")
    with pytest.raises(FileNotFoundError, match="revision not found"):
        fs.ls(f"{LLAMA}@no-such-branch")
    with pytest.raises(FileNotFoundError, match="repository not found"):
        fs.ls("lab/no-such-model")
    refused = HfFileSystem(endpoint=world.url, token=world.tokens["refused"])
    assert refused.cat_file(f"{LLAMA}/config.json") == world.files[LLAMA]["config.json"]
    with pytest.raises(GatedRepoError, match=r"deny \(presumption_of_denial\)"):
        refused.cat_file(f"{LLAMA}/model.safetensors")


def test_hub_metadata_answers(world: World) -> None:
    api = HfApi(endpoint=world.url, token=world.tokens["refused"])
    info = api.model_info(LLAMA, files_metadata=True)
    sizes = {s.rfilename: s.size for s in info.siblings or [] if s.rfilename != SIDECAR_PATH}
    assert sizes == {p: len(d) for p, d in world.files[LLAMA].items()}
    lfs = {s.rfilename: s.lfs for s in info.siblings or [] if s.lfs}
    assert "model.safetensors" in lfs
    expanded = api.model_info(LLAMA, expand=["sha", "siblings"])
    assert expanded.sha == world.commits[LLAMA]
    # How to load it, as the Hub says it: `pipeline(model=...)` without a task needs it.
    assert (info.pipeline_tag, info.library_name) == ("text-generation", "transformers")
    encoder = api.model_info(ENCODER)
    assert (encoder.pipeline_tag, encoder.library_name) == (
        "sentence-similarity",
        "sentence-transformers",
    )
    refs = api.list_repo_refs(LLAMA)
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", world.commits[LLAMA])]


def test_hf_download_cli(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "got"
    ok = run_client(
        world, "allowed", tmp_path / "a", "hf", "download", LLAMA, "--local-dir", str(folder)
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    for path, data in world.files[LLAMA].items():
        assert (folder / path).read_bytes() == data, path
    refused = run_client(
        world,
        "refused",
        tmp_path / "r",
        "hf",
        "download",
        LLAMA,
        "--local-dir",
        str(tmp_path / "no"),
    )
    assert refused.returncode != 0
    assert REASON in refused.stderr + refused.stdout
    assert not (tmp_path / "no" / "model.safetensors").exists()


def test_transformers_allowed(world: World, tmp_path: Path) -> None:
    result, _ = _loaded(world, "allowed", tmp_path, "causal", LLAMA)
    assert result["config"] == "llama", result
    assert isinstance(result["tokenizer"], list) and len(result["tokenizer"]) >= 2, result
    assert result["model"] == "LlamaForCausalLM", result
    assert isinstance(result["pipeline"], str) and result["pipeline"].startswith("hello world")
    assert isinstance(result["pipeline_without_task"], str), result


def test_transformers_refused_shows_the_reason(world: World, tmp_path: Path) -> None:
    result, stderr = _loaded(world, "refused", tmp_path, "causal", LLAMA)
    # Config and tokenizer are not parameters: they flow to anyone.
    assert result["config"] == "llama", result
    assert isinstance(result["tokenizer"], list), result
    for step in ("model", "pipeline", "pipeline_without_task"):
        assert "error" in result[step], result
    # transformers swallows GatedRepoError while it probes for weight files; the gate's reason
    # reaches the user as the client's printed warning.
    assert REASON in stderr and "decision dec_" in stderr


def test_sentence_transformers(world: World, tmp_path: Path) -> None:
    allowed, stderr = _loaded(world, "allowed", tmp_path / "a", "sentence", ENCODER)
    assert allowed["encode"] == [1, 16], (allowed, stderr[-2000:])
    refused, stderr = _loaded(world, "refused", tmp_path / "r", "sentence", ENCODER)
    assert "error" in refused["encode"], refused
    assert REASON in stderr or REASON in refused["encode"]["error"]


def test_diffusers(world: World, tmp_path: Path) -> None:
    if DIFFUSION not in world.files:
        pytest.skip("diffusers is not installed (not a project dependency)")
    allowed, stderr = _loaded(world, "allowed", tmp_path / "a", "diffusion", DIFFUSION)
    assert allowed["sample"] == [1, 8, 8, 3], (allowed, stderr[-2000:])
    refused, _ = _loaded(world, "refused", tmp_path / "r", "diffusion", DIFFUSION)
    assert REASON in refused["sample"]["error"], refused
