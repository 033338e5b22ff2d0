"""The unmodified huggingface_hub client against the gate, in store mode and in upstream mode."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError
from huggingface_hub.utils import _http

from gate.store import inquiries
from tests.server.conftest import Repos, ServerThread, StoreKeeper

# An answer to each question a hold may ask (the records check each one's form).
ANSWERS = {
    "publication_status": "not published as far as we know",
    "training_compute": "unknown to us",
    "recipient_headquarters": "US",
    "ultimate_parent": "none",
    "destination": "US",
    "export_destinations": ["US"],
    "end_use": "research",
    "license_obligation_acknowledged": True,
    "security_attestation": {"valid_until": "2030-01-01"},
}


@pytest.fixture(params=["store", "upstream"])
def endpoint(request: pytest.FixtureRequest, repos: Repos, keeper: StoreKeeper) -> str:
    """The gate's URL: over the local store, or over a second gate as its upstream."""
    if request.param == "store":
        server: ServerThread = request.getfixturevalue("gate")
        return server.url
    front, _ = request.getfixturevalue("chained")
    return str(front.url)


def test_allowed_downloads_are_byte_identical(endpoint: str, repos: Repos, tmp_path: Path) -> None:
    for path, data in repos.files["open/small"].items():
        got = hf_hub_download(
            "open/small", path, endpoint=endpoint, token="tok-acme", cache_dir=tmp_path / "cache"
        )
        assert Path(got).read_bytes() == data
    # A controlled model to an allied recipient and destination: License Exception AIA.
    name = "model-00001-of-00002.safetensors"
    got = hf_hub_download(
        "lab/frontier", name, endpoint=endpoint, token="tok-acme", cache_dir=tmp_path / "cache"
    )
    assert Path(got).read_bytes() == repos.files["lab/frontier"][name]


def test_snapshot_download_is_byte_identical(endpoint: str, repos: Repos, tmp_path: Path) -> None:
    folder = Path(
        snapshot_download(
            "lab/frontier", endpoint=endpoint, token="tok-acme", cache_dir=tmp_path / "cache"
        )
    )
    assert folder.name == repos.commits["lab/frontier"]
    for path, data in repos.files["lab/frontier"].items():
        assert (folder / path).read_bytes() == data


def test_metadata_calls(endpoint: str, repos: Repos) -> None:
    api = HfApi(endpoint=endpoint, token="tok-dragon")
    info = api.model_info("lab/frontier")
    assert info.sha == repos.commits["lab/frontier"]
    assert sorted(s.rfilename for s in info.siblings or []) == sorted(repos.files["lab/frontier"])
    assert sorted(api.list_repo_files("lab/frontier")) == sorted(repos.files["lab/frontier"])
    assert api.model_info("lab/frontier", revision="refs/pr/1").sha == repos.commits["lab/frontier"]
    assert api.whoami()["name"] == "Dragon AI"


def test_safetensors_metadata_of_refused_weights(endpoint: str) -> None:
    """The header window is served although Dragon AI may not have the weights."""
    api = HfApi(endpoint=endpoint, token="tok-dragon")
    meta = api.get_safetensors_metadata("lab/frontier")
    assert meta.parameter_count == {"F32": 520}
    single = api.parse_safetensors_file_metadata("lab/mystery", "model.safetensors")
    assert single.parameter_count == {"F32": 260}
    # A single-file repo: the client asks `file_exists` (a HEAD) first, then reads the header.
    whole = HfApi(endpoint=endpoint, token="tok-acme").get_safetensors_metadata("lab/mystery")
    assert whole.parameter_count == {"F32": 260} and not whole.sharded


def test_refused_download_raises_gated_repo_with_reason(
    endpoint: str, tmp_path: Path, keeper: StoreKeeper
) -> None:
    name = "model-00001-of-00002.safetensors"
    with pytest.raises(GatedRepoError) as caught:
        hf_hub_download(
            "lab/frontier",
            name,
            endpoint=endpoint,
            token="tok-dragon",
            cache_dir=tmp_path / "cache",
        )
    message = str(caught.value)
    assert "deny (presumption_of_denial)" in message
    assert "CN" in message or "embargoed" in message
    decision_id = [d for d, ctx, _ in keeper.decisions if ctx.path == name][-1]
    assert decision_id in message
    assert not list((tmp_path / "cache").rglob(name))


def test_hold_names_the_inquiry(endpoint: str, tmp_path: Path, keeper: StoreKeeper) -> None:
    with pytest.raises(GatedRepoError) as caught:
        snapshot_download(
            "lab/mystery", endpoint=endpoint, token="tok-acme", cache_dir=tmp_path / "cache"
        )
    message = str(caught.value)
    assert "hold (publication_unknown)" in message
    found = re.search(r"/api/gate/inquiries/([^/\s]+)/answers", message)
    assert found is not None, message
    inquiry_id = found.group(1)
    questions = inquiries.get(keeper.store, inquiry_id).questions
    answers = {q: ANSWERS[q] for q in questions}
    # The recipient answers its inquiry through the gate.
    response = httpx.post(
        f"{endpoint}/api/gate/inquiries/{inquiry_id}/answers",
        json=answers,
        headers={"Authorization": "Bearer tok-acme"},
    )
    assert response.status_code == 200, response.text
    assert inquiries.get(keeper.store, inquiry_id).status == "answered"
    other = httpx.post(
        f"{endpoint}/api/gate/inquiries/{inquiry_id}/answers",
        json={"x": 1},
        headers={"Authorization": "Bearer tok-dragon"},
    )
    assert other.status_code == 404


def test_no_token_is_a_401_with_the_reason(gate: ServerThread, tmp_path: Path) -> None:
    with pytest.raises(HfHubHTTPError) as caught:
        hf_hub_download(
            "open/small",
            "config.json",
            endpoint=gate.url,
            token=False,
            cache_dir=tmp_path / "cache",
        )
    assert caught.value.response.status_code == 401
    assert "a credential is required" in str(caught.value)
    with pytest.raises(HfHubHTTPError) as info_error:
        HfApi(endpoint=gate.url, token=False).model_info("open/small")
    assert "a credential is required" in str(info_error.value)


def test_shadow_mode_passes_with_warning(
    shadow_gate: ServerThread,
    repos: Repos,
    tmp_path: Path,
    keeper: StoreKeeper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _http._WARNED_TOPICS.discard("gate-shadow")
    name = "model-00001-of-00002.safetensors"
    with caplog.at_level(logging.WARNING):
        got = hf_hub_download(
            "lab/frontier", name, endpoint=shadow_gate.url, token="tok-dragon", cache_dir=tmp_path
        )
    assert Path(got).read_bytes() == repos.files["lab/frontier"][name]
    assert any("shadow mode, not enforced" in r.getMessage() for r in caplog.records)
    assert keeper.decisions[-1][2].verdict.value == "deny"


@pytest.mark.slow
def test_hf_cli_download(gate: ServerThread, repos: Repos, tmp_path: Path) -> None:
    env = {**os.environ, "HF_ENDPOINT": gate.url, "HF_TOKEN": "tok-acme", "HF_HOME": str(tmp_path)}
    hf = Path(sys.executable).parent / "hf"
    ok = subprocess.run(
        [str(hf), "download", "open/small", "--local-dir", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    for path, data in repos.files["open/small"].items():
        assert (tmp_path / "out" / path).read_bytes() == data
    env["HF_TOKEN"] = "tok-dragon"
    refused = subprocess.run(
        [
            str(hf),
            "download",
            "lab/frontier",
            "model-00002-of-00002.safetensors",
            "--local-dir",
            str(tmp_path / "out2"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "presumption_of_denial" in refused.stderr + refused.stdout
    assert not (tmp_path / "out2" / "model-00002-of-00002.safetensors").exists()
