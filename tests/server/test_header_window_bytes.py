"""A denied recipient receives not one byte of the weights through the safetensors header window.

Issue 10, class 2: a "header" whose `__metadata__` holds the weights, that describes no tensor,
or that hides them in its layout, was served whole by `Range: bytes=0-`. Now the window is served
only for a real header (RULES.md); otherwise those bytes are parameters and refused like the rest.
Through the real store-backed server on loopback and the real huggingface_hub client, for
Shenzhen Vision Co (denied: a controlled model, headquarters in China), with controls: the real
header is still readable by it, config/tokenizer/README still reach it, and Nordic AI AB (License
Exception AIA) gets every file whole.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError
from safetensors.numpy import save

from gate.core.values import ComputeInterval
from gate.hub.layout import write_snapshot
from gate.store import models
from tests.server.gate_world import make_world, running

pytestmark = pytest.mark.slow

REPO = "lab/smuggler"
WEIGHTS = np.random.default_rng(7).standard_normal(20_000).astype(np.float32).tobytes()
"""80 kB standing in for a closed model's weights: the attack tries to ship these."""


def _file(header: dict[str, object] | bytes, data: bytes) -> bytes:
    body = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(body)) + body + data


def _tiny_tensor() -> dict[str, object]:
    return {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}


def _whitespace(data: bytes) -> bytes:
    return "".join(" " if bit == "0" else "\t" for b in data for bit in format(b, "08b")).encode()


SMUGGLERS = {
    # the weights as hex in __metadata__, beside one tiny real tensor
    "metadata.safetensors": _file(
        {"__metadata__": {"w": WEIGHTS.hex()}, "t": _tiny_tensor()}, b"\0" * 4
    ),
    # a header describing no tensor at all, the weights in its metadata
    "empty.safetensors": _file({"__metadata__": {"w": WEIGHTS[:30_000].hex()}}, b""),
    # the weights in whitespace between valid JSON tokens
    "layout.safetensors": _file(
        b'{"t": ' + json.dumps(_tiny_tensor()).encode() + _whitespace(WEIGHTS[:4000]) + b"}",
        b"\0" * 4,
    ),
    # the weights in a tensor's name
    "names.safetensors": _file({WEIGHTS[:8000].hex(): _tiny_tensor()}, b"\0" * 4),
}
REAL = bytes(save({"w": np.frombuffer(WEIGHTS, np.float32).reshape(100, 200)}))
FILES = {
    **SMUGGLERS,
    "model.safetensors": REAL,
    "config.json": b'{"model_type": "llama"}',
    "tokenizer.json": b'{"vocab": {"a": 0}}',
    "README.md": b"---\nlicense: other\n---\n# smuggler\n",
}


@pytest.fixture()
def gate(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The store-backed gate over the demo world plus the smuggler repository, which the
    operator has recorded as closed and trained with 3e26 operations (controlled)."""
    world = make_world(tmp_path)
    write_snapshot(world.store_dir, REPO, FILES)
    with running(world) as (url, tokens, store):
        models.classify(
            store, REPO, actor="test", reason="lab report", published=False,
            compute=ComputeInterval.exactly(3e26),
        )  # fmt: skip
        yield url, {"denied": tokens["shenzhen"], "allowed": tokens["nordic"]}


def _slices(data: bytes) -> list[bytes]:
    return [data[i : i + 32] for i in range(0, len(data) - 32, len(data) // 7)]


def _carries_weights(body: bytes) -> bool:
    texts = [WEIGHTS, WEIGHTS.hex().encode(), _whitespace(WEIGHTS[:4000])]
    return any(piece in body for text in texts for piece in _slices(text))


@pytest.mark.parametrize("name", sorted(SMUGGLERS))
def test_fake_header_windows_are_refused(gate: tuple[str, dict[str, str]], name: str) -> None:
    endpoint, tokens = gate
    url = f"{endpoint}/{REPO}/resolve/main/{name}"
    auth = {"Authorization": f"Bearer {tokens['denied']}"}
    with httpx.Client(timeout=10) as client:
        for ranged in ("bytes=0-", "bytes=0-100000", "bytes=8-", "bytes=100-200"):
            response = client.get(url, headers={**auth, "Range": ranged})
            assert response.status_code == 403, (ranged, response.status_code)
            assert response.headers["X-Error-Code"] == "GatedRepo"
            assert not _carries_weights(response.content)
        whole = client.get(url, headers=auth)
        assert whole.status_code == 403 and not _carries_weights(whole.content)
        head = client.head(url, headers=auth)
        assert head.status_code == 403  # no window: a HEAD is refused like any parameter file
    api = HfApi(endpoint=endpoint, token=tokens["denied"])
    with pytest.raises((GatedRepoError, HfHubHTTPError)):
        api.parse_safetensors_file_metadata(REPO, name)


def test_controls_real_header_and_small_files_still_flow(
    gate: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    endpoint, tokens = gate
    api = HfApi(endpoint=endpoint, token=tokens["denied"])
    meta = api.parse_safetensors_file_metadata(REPO, "model.safetensors")
    assert meta.parameter_count == {"F32": 20_000}  # the real header is architecture
    with httpx.Client(timeout=10) as client:
        response = client.get(
            f"{endpoint}/{REPO}/resolve/main/model.safetensors",
            headers={"Authorization": f"Bearer {tokens['denied']}", "Range": "bytes=0-"},
        )
    window = 8 + struct.unpack("<Q", REAL[:8])[0]
    assert response.status_code == 206 and response.content == REAL[:window]
    assert WEIGHTS[:64] not in response.content
    for path in ("config.json", "tokenizer.json", "README.md"):
        got = hf_hub_download(
            REPO, path, endpoint=endpoint, token=tokens["denied"], cache_dir=tmp_path / "denied"
        )
        assert Path(got).read_bytes() == FILES[path]
    with pytest.raises(GatedRepoError):
        hf_hub_download(
            REPO,
            "model.safetensors",
            endpoint=endpoint,
            token=tokens["denied"],
            cache_dir=tmp_path / "d2",
        )


def test_allowed_recipient_gets_every_file_whole(
    gate: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    endpoint, tokens = gate
    folder = Path(
        snapshot_download(REPO, endpoint=endpoint, token=tokens["allowed"], cache_dir=tmp_path)
    )
    for path, data in FILES.items():
        assert (folder / path).read_bytes() == data, path
