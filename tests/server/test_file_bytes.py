"""The bytes decide, not only the name: weights under a config/tokenizer/README name stay home.

Issue 10, class 1 (RULES.md "What is controlled"): a file is not parameters only when the ruleset
names it so AND, where the gate can see its bytes, they agree. A `config.json` that is a
safetensors file, a `tokenizer.json` that is a PyTorch zip, a `README.md` that is a pickle, a
`vocab.txt` that is GGUF, a `preprocessor_config.json` that is JSON text followed by the weights,
a `generation_config.json` over the size cap: through the real store-backed server on loopback
and the real huggingface_hub client, Shenzhen Vision Co (denied: a controlled model, headquarters
in China) gets not one slice of the hidden weights from any of them, nor from the snapshot
bundle. Controls: honest files under the same names still reach it; Nordic AI AB (License
Exception AIA) gets every file whole.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError
from safetensors.numpy import save

from gate.core.values import ComputeInterval, ModelFacts
from gate.crypto.snapshot_bundle import SIDECAR_PATH
from gate.hub.layout import write_snapshot
from gate.hub.local import LocalStore
from gate.hub.upstream import UpstreamSource
from gate.rules.loader import load_default_ruleset
from gate.server.app import create_app
from gate.server.background import BackgroundServer
from gate.store import models
from tests.server.conftest import StoreKeeper, store_keeper
from tests.server.gate_world import make_world, running

pytestmark = pytest.mark.slow

SMUGGLER = "lab/hidden-weights"
HONEST = "lab/honest-small-files"
WEIGHTS = np.random.default_rng(11).standard_normal(20_000).astype(np.float32).tobytes()
"""80 kB standing in for a closed model's weights: the attack ships them under harmless names."""
CAP = load_default_ruleset().files.max_non_parameter_bytes


def _torch_zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/data/0", data)
    return buffer.getvalue()


def _gguf(data: bytes) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + data


def _text_then_binary(data: bytes) -> bytes:
    # 4 kB of honest JSON first: a check of the first bytes only would pass it.
    text = json.dumps({"feature_size": 80, "pad": "x" * 4000}).encode()
    return text + b"\n" + data


def _oversize(data: bytes) -> bytes:
    # Valid UTF-8 JSON, no signature: only the size cap catches it.
    body = json.dumps({"w": data.hex()}).encode()
    return body + b" " * (CAP + 1 - len(body))


SMUGGLED = {
    "config.json": bytes(save({"w": np.frombuffer(WEIGHTS, np.float32).reshape(100, 200)})),
    "tokenizer.json": _torch_zip(WEIGHTS),
    "README.md": pickle.dumps(WEIGHTS, protocol=4),
    "vocab.txt": _gguf(WEIGHTS),
    "preprocessor_config.json": _text_then_binary(WEIGHTS),
    "generation_config.json": _oversize(WEIGHTS),
}
HONEST_FILES = {
    "config.json": b'{"model_type": "llama", "hidden_size": 64}',
    "tokenizer.json": json.dumps({"model": {"vocab": {"a": 0, "\u00e9": 1}}}).encode(),
    "README.md": "---\nlicense: other\n---\n# honest \u2014 small files\n".encode(),
    "vocab.txt": b"[PAD]\n[UNK]\nhello\n",
    "preprocessor_config.json": b'{"feature_size": 80}',
    "generation_config.json": b'{"max_new_tokens": 32}',
}


VANISHING = "lab/vanishing"
"""Honest small files whose config.json blob disappears after the listing and the
classification: the server's byte check cannot read it."""
DECOY = "lab/tiny-decoy"
DECOY_FILES = {
    "model.safetensors": bytes(save({"w": np.zeros(4, np.float32)})),
    "config.json": b'{"model_type": "llama"}',
    "tokenizer.json": SMUGGLED["config.json"],
}
"""No record: the gate classifies it. A 4-parameter decoy; the weights sit in tokenizer.json."""


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The store-backed gate over the demo world plus both repositories, which the operator
    recorded as closed and trained with 3e26 operations (controlled)."""
    tmp_path = tmp_path_factory.mktemp("filebytes")
    world = make_world(tmp_path)
    write_snapshot(world.store_dir, SMUGGLER, SMUGGLED)
    write_snapshot(world.store_dir, HONEST, HONEST_FILES)
    write_snapshot(world.store_dir, DECOY, DECOY_FILES)
    write_snapshot(
        world.store_dir,
        VANISHING,
        {**HONEST_FILES, "model.safetensors": DECOY_FILES["model.safetensors"]},
    )
    with running(world) as (url, tokens, store):
        for repo in (SMUGGLER, HONEST, VANISHING):
            models.classify(
                store, repo, actor="test", reason="lab report", published=False,
                compute=ComputeInterval.exactly(3e26),
            )  # fmt: skip
        yield (
            url,
            {
                "denied": tokens["shenzhen"],
                "allowed": tokens["nordic"],
                "dir": str(world.store_dir),
            },
        )


def _carries_weights(body: bytes) -> bool:
    step = len(WEIGHTS) // 9
    slices = [WEIGHTS[i : i + 32] for i in range(0, len(WEIGHTS) - 32, step)]
    hexed = WEIGHTS.hex().encode()
    slices += [hexed[i : i + 64] for i in range(0, len(hexed) - 64, len(hexed) // 9)]
    return any(piece in body for piece in slices)


@pytest.mark.parametrize("name", sorted(SMUGGLED))
def test_weights_under_a_harmless_name_are_refused(
    gate: tuple[str, dict[str, str]], name: str, tmp_path: Path
) -> None:
    endpoint, tokens = gate
    url = f"{endpoint}/{SMUGGLER}/resolve/main/{name}"
    auth = {"Authorization": f"Bearer {tokens['denied']}"}
    with httpx.Client(timeout=30) as client:
        for ranged in (None, "bytes=0-", "bytes=8-", "bytes=4000-"):
            headers = {**auth, **({"Range": ranged} if ranged else {})}
            response = client.get(url, headers=headers)
            assert response.status_code == 403, (ranged, response.status_code)
            assert response.headers["X-Error-Code"] == "GatedRepo"
            assert response.json()["basis"] != "not_model_weights"
            assert not _carries_weights(response.content)
        head = client.head(url, headers=auth)
        assert head.status_code == 403
    with pytest.raises((GatedRepoError, HfHubHTTPError)):
        hf_hub_download(
            SMUGGLER, name, endpoint=endpoint, token=tokens["denied"], cache_dir=tmp_path
        )
    assert not any(p.is_file() and _carries_weights(p.read_bytes()) for p in tmp_path.rglob("*"))


def test_weights_under_a_harmless_name_are_counted(gate: tuple[str, dict[str, str]]) -> None:
    """The classification counts them too: a decoy beside them is no longer "below threshold"
    (which would let the disguised weights go as part of a small model)."""
    endpoint, tokens = gate
    auth = {"Authorization": f"Bearer {tokens['denied']}"}
    for name in ("tokenizer.json", "model.safetensors"):
        response = httpx.get(f"{endpoint}/{DECOY}/resolve/main/{name}", headers=auth, timeout=30)
        assert response.status_code == 403, name
        assert response.json()["basis"] not in ("below_threshold", "not_model_weights")
        assert not _carries_weights(response.content)
    config = httpx.get(f"{endpoint}/{DECOY}/resolve/main/config.json", headers=auth, timeout=30)
    assert config.status_code == 200 and config.content == DECOY_FILES["config.json"]


def _vouched(endpoint: str, token: str, repo: str) -> set[str]:
    response = httpx.get(
        f"{endpoint}/{repo}/resolve/main/{SIDECAR_PATH}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert response.status_code == 200
    assert not _carries_weights(response.content)
    statement = json.loads(base64.b64decode(response.json()["dsseEnvelope"]["payload"]))
    return set(statement["predicate"]["weight_gate"]["decision_ids"])


def test_snapshot_bundle_follows_the_bytes(gate: tuple[str, dict[str, str]]) -> None:
    endpoint, tokens = gate
    assert _vouched(endpoint, tokens["denied"], SMUGGLER) == set()
    assert _vouched(endpoint, tokens["denied"], HONEST) == set(HONEST_FILES)
    assert _vouched(endpoint, tokens["allowed"], SMUGGLER) == set(SMUGGLED)


def test_honest_small_files_still_reach_the_denied_recipient(
    gate: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    endpoint, tokens = gate
    for name, data in HONEST_FILES.items():
        got = hf_hub_download(
            HONEST, name, endpoint=endpoint, token=tokens["denied"], cache_dir=tmp_path
        )
        assert Path(got).read_bytes() == data, name
        head = httpx.head(
            f"{endpoint}/{HONEST}/resolve/main/{name}",
            headers={"Authorization": f"Bearer {tokens['denied']}"},
        )
        assert head.headers["X-Gate-Decision"] == "allow; not_model_weights"


def test_allowed_recipient_gets_every_file_whole(
    gate: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    endpoint, tokens = gate
    for repo, files in ((SMUGGLER, SMUGGLED), (HONEST, HONEST_FILES)):
        for name, data in files.items():
            got = hf_hub_download(
                repo, name, endpoint=endpoint, token=tokens["allowed"], cache_dir=tmp_path
            )
            assert Path(got).read_bytes() == data, (repo, name)


@pytest.fixture(scope="module")
def upstream_gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, StoreKeeper]]:
    """Upstream mode: a gate proxying a hub (itself a gate that lets the proxy read all)."""
    tmp_path = tmp_path_factory.mktemp("filebytes-upstream")
    small = {k: v for k, v in SMUGGLED.items() if k != "generation_config.json"}
    write_snapshot(tmp_path / "hub", SMUGGLER, small)
    hub_keeper = store_keeper(
        tmp_path / "hub-records", {SMUGGLER: ModelFacts(repo_id=SMUGGLER, published=True)}
    )
    keeper = store_keeper(
        tmp_path / "records",
        {
            SMUGGLER: ModelFacts(
                repo_id=SMUGGLER, published=False, training_compute=ComputeInterval.exactly(3e26)
            )
        },
    )
    with BackgroundServer(create_app(LocalStore(tmp_path / "hub"), hub_keeper)) as hub:
        source = UpstreamSource(hub.url, hub_keeper.tokens["tok-proxy"])
        with BackgroundServer(create_app(source, keeper)) as front:
            yield front.url, keeper
    hub_keeper.store.close()
    keeper.store.close()


def test_upstream_mode_looks_at_the_bytes_too(
    upstream_gate: tuple[str, StoreKeeper], tmp_path: Path
) -> None:
    endpoint, keeper = upstream_gate
    denied, allowed = keeper.tokens["tok-dragon"], keeper.tokens["tok-acme"]
    for name, data in SMUGGLED.items():
        if name == "generation_config.json":
            continue
        url = f"{endpoint}/{SMUGGLER}/resolve/main/{name}"
        for ranged in (None, "bytes=0-"):
            headers = {"Authorization": f"Bearer {denied}", **({"Range": ranged} if ranged else {})}
            response = httpx.get(url, headers=headers, timeout=30)
            assert response.status_code == 403, (name, ranged)
            assert not _carries_weights(response.content)
        got = hf_hub_download(SMUGGLER, name, endpoint=endpoint, token=allowed, cache_dir=tmp_path)
        assert Path(got).read_bytes() == data, name


def test_a_failed_byte_check_is_parameters(gate: tuple[str, dict[str, str]]) -> None:
    endpoint, tokens = gate
    auth = {"Authorization": f"Bearer {tokens['denied']}"}
    # The weights first: the source lists the commit and the gate classifies it (both kept);
    # config.json's bytes are not looked at for the server's own byte check yet.
    weights = httpx.get(f"{endpoint}/{VANISHING}/resolve/main/model.safetensors", headers=auth)
    assert weights.status_code == 403
    snapshot = next((Path(tokens["dir"]) / "models--lab--vanishing" / "snapshots").iterdir())
    Path(os.path.realpath(snapshot / "config.json")).unlink()
    response = httpx.get(f"{endpoint}/{VANISHING}/resolve/main/config.json", headers=auth)
    assert response.status_code == 403
    assert response.json()["basis"] != "not_model_weights"
