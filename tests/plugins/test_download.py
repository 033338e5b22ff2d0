"""The real huggingface_hub client with the plugin, against the real proxy signing receipts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError
from safetensors.numpy import save
from starlette.types import Message, Receive, Scope, Send
from weight_gate_hf import GateVerificationError, install, load_verified, uninstall, verify_cache
from weight_gate_hf.receipt_store import RECEIPTS_DIR

from gate.crypto.keys import Signer
from tests.plugins.conftest import ReceiptKeeper, cached_files, new_signer
from tests.server.conftest import Repos, ServerThread

SHARD = "model-00001-of-00002.safetensors"


def pem(signer: Signer, folder: Path) -> Path:
    path = folder / f"{signer.key_id}.pem"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        signer.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture()
def plugged(gate: ServerThread, signer: Signer, cache: Path, tmp_path: Path) -> ServerThread:
    """The plugin installed for Acme Labs with the gate's key pinned as a PEM file."""
    install(
        gate.url, token="tok-acme", trusted_keys=[pem(signer, tmp_path / "keys")], cache_dir=cache
    )
    return gate


def fetch(gate: ServerThread, cache: Path, repo: str = "lab/frontier", name: str = SHARD) -> Path:
    return Path(hf_hub_download(repo, name, endpoint=gate.url, cache_dir=cache))


def refused(gate: ServerThread, cache: Path, *expected: str) -> str:
    """Download must fail with GateVerificationError naming `expected`, leaving no file."""
    with pytest.raises(GateVerificationError) as caught:
        fetch(gate, cache)
    message = str(caught.value)
    for text in expected:
        assert text in message
    assert cached_files(cache) == []
    assert not list(cache.rglob("*.incomplete"))
    assert not list((cache / RECEIPTS_DIR).rglob("*.receipt.json"))
    return message


# -- the valid path ---------------------------------------------------------------------------


def test_valid_download_keeps_receipt_and_verifies(
    plugged: ServerThread, repos: Repos, cache: Path
) -> None:
    got = fetch(plugged, cache)
    assert got.read_bytes() == repos.files["lab/frontier"][SHARD]
    commit = repos.commits["lab/frontier"]
    stored = cache / RECEIPTS_DIR / "models--lab--frontier" / commit / f"{SHARD}.receipt.json"
    envelope = json.loads(stored.read_text())["envelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    report = verify_cache("lab/frontier")
    assert report.commit == commit and report.verified == (SHARD,)
    tensors = load_verified(got)
    assert tensors["w"].shape == (64, 4) and tensors["w"].dtype == np.float32


def test_snapshot_download_and_non_parameter_files(
    plugged: ServerThread, repos: Repos, cache: Path
) -> None:
    folder = Path(snapshot_download("lab/frontier", endpoint=plugged.url, cache_dir=cache))
    for path, data in repos.files["lab/frontier"].items():
        assert (folder / path).read_bytes() == data
    report = verify_cache("lab/frontier", repos.commits["lab/frontier"])
    assert set(report.verified) == {SHARD, "model-00002-of-00002.safetensors"}
    # Config, tokenizer and notes are not parameters: no receipt needed, none issued.
    assert "config.json" in report.unreceipted and "sub/dir/notes.txt" in report.unreceipted


@pytest.mark.torch
def test_load_verified_with_torch(plugged: ServerThread, cache: Path) -> None:
    torch = pytest.importorskip("torch")
    tensors = load_verified(fetch(plugged, cache), framework="pt")
    assert isinstance(tensors["b"], torch.Tensor) and tensors["b"].shape == (4,)


def test_refusal_still_shows_the_gates_reason(plugged: ServerThread, cache: Path) -> None:
    install(plugged.url, token="tok-dragon", trusted_keys="endpoint", cache_dir=cache)
    with pytest.raises(GatedRepoError, match="presumption_of_denial"):
        fetch(plugged, cache)
    assert cached_files(cache) == []
    # Reading the safetensors header of refused weights is a slice, not a file: still allowed.
    meta = HfApi(endpoint=plugged.url).get_safetensors_metadata("lab/frontier")
    assert meta.parameter_count == {"F32": 520}


def test_token_is_attached_for_the_gate(
    gate: ServerThread, signer: Signer, cache: Path, tmp_path: Path
) -> None:
    # No token is passed to hf_hub_download: the plugin's recipient token authenticates.
    install(
        gate.url, token="tok-acme", trusted_keys={signer.key_id: signer.public_key}, cache_dir=cache
    )
    assert fetch(gate, cache, "open/small", "model.safetensors").is_file()


# -- what must be refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: dataclasses.replace(
                c, caller=dataclasses.replace(c.caller, recipient_id="r-other")
            ),
            "receipt is for another recipient",
        ),
        (lambda c: dataclasses.replace(c, path="model-00002-of-00002.safetensors"), "another file"),
        (lambda c: dataclasses.replace(c, commit="0" * 40), "another commit"),
        (lambda c: dataclasses.replace(c, sha256="ab" * 32), "announced sha256"),
        (lambda c: dataclasses.replace(c, size=c.size + 1), "announced size"),
    ],
    ids=["recipient", "file", "commit", "digest", "size"],
)
def test_receipt_for_something_else(
    plugged: ServerThread, keeper: ReceiptKeeper, cache: Path, edit: object, expected: str
) -> None:
    keeper.edit = edit  # type: ignore[assignment]
    refused(plugged, cache, expected, SHARD)


def test_expired_receipt(plugged: ServerThread, keeper: ReceiptKeeper, cache: Path) -> None:
    keeper.issued_offset = -timedelta(hours=3)
    refused(plugged, cache, "receipt expired")


def test_unknown_key(plugged: ServerThread, keeper: ReceiptKeeper, cache: Path) -> None:
    keeper.signer = new_signer()
    refused(plugged, cache, "unknown key id", keeper.signer.key_id)


def test_missing_receipt(
    plugged: ServerThread, keeper: ReceiptKeeper, cache: Path, tmp_path: Path
) -> None:
    keeper.receipts = False
    refused(plugged, cache, "no gate receipt")
    # Without require_receipts the same file comes through (and has nothing to re-verify).
    active_keys = {keeper.signer.key_id: keeper.signer.public_key} if keeper.signer else {}
    install(
        plugged.url,
        token="tok-acme",
        trusted_keys=active_keys,
        require_receipts=False,
        cache_dir=cache,
    )
    assert fetch(plugged, cache).is_file()


def test_body_changed_in_transit(
    repos: Repos, keeper: ReceiptKeeper, signer: Signer, cache: Path
) -> None:
    """A byte flipped after the gate (between it and the client) fails the stream hash."""
    from gate.hub.local import LocalStore
    from gate.server.app import create_app

    app = create_app(LocalStore(repos.root), keeper)

    async def flip_one_byte(scope: Scope, receive: Receive, send: Send) -> None:
        async def tampering_send(message: Message) -> None:
            body = message.get("body")
            if message["type"] == "http.response.body" and body and "/resolve/" in scope["path"]:
                message = {**message, "body": bytes([body[0] ^ 1]) + body[1:]}
            await send(message)

        await app(scope, receive, tampering_send)

    with ServerThread(flip_one_byte) as server:
        install(
            server.url,
            token="tok-acme",
            trusted_keys={signer.key_id: signer.public_key},
            cache_dir=cache,
        )
        refused(server, cache, "sha256", "tampered")


@pytest.mark.slow
def test_stored_blob_changed_on_the_gate(plugged: ServerThread, repos: Repos, cache: Path) -> None:
    """One byte changed in the gate's stored blob: nothing reaches the client's cache."""
    data = repos.files["lab/frontier"][SHARD]
    blob = repos.root / "models--lab--frontier" / "blobs" / hashlib.sha256(data).hexdigest()
    blob.write_bytes(bytes([data[0] ^ 1]) + data[1:])
    # The gate hashes while sending and cuts the stream before the last chunk; the client
    # resumes, and the gate now refuses the file it knows to be corrupt.
    with pytest.raises(HfHubHTTPError, match="digest"):
        fetch(plugged, cache)
    assert cached_files(cache) == []
    assert not list(cache.rglob("*.incomplete"))


def test_redirect_is_refused(plugged: ServerThread, cache: Path) -> None:
    """A redirect for weights would fetch bytes nobody signed."""
    from starlette.responses import RedirectResponse

    async def redirector(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await RedirectResponse(plugged.url + scope["path"], status_code=302)(
                scope, receive, send
            )

    with (
        ServerThread(redirector) as server,
        pytest.raises(GateVerificationError, match="redirected"),
    ):
        hf_hub_download(
            "lab/frontier", SHARD, endpoint=server.url, cache_dir=cache, token="tok-acme"
        )
    assert cached_files(cache) == []


def test_uninstall_restores_the_plain_client(
    plugged: ServerThread, keeper: ReceiptKeeper, cache: Path
) -> None:
    keeper.receipts = False
    refused(plugged, cache, "no gate receipt")
    uninstall()
    got = hf_hub_download(
        "lab/frontier", SHARD, endpoint=plugged.url, cache_dir=cache, token="tok-acme"
    )
    assert Path(got).is_file()


@pytest.mark.slow
def test_resumed_download_is_hashed_across_the_cut(
    repos: Repos, keeper: ReceiptKeeper, signer: Signer, cache: Path
) -> None:
    """A connection cut mid-body: the client resumes with a Range, the plugin keeps hashing."""
    from gate.core.values import ModelFacts
    from gate.hub.local import LocalStore
    from gate.server.app import create_app
    from tests.server.conftest import add_repo

    rng = np.random.default_rng(7)
    # The client writes in 10 MiB chunks, so only a cut after the first 10 MiB makes it resume
    # with a Range (an earlier cut restarts from byte 0).
    data = bytes(save({"w": rng.standard_normal((3072, 1024)).astype(np.float32)}))  # 12 MiB
    add_repo(repos.root, "open/big", {"model.safetensors": data})
    keeper.rule("open/big", ModelFacts(repo_id="open/big", published=True))
    app = create_app(LocalStore(repos.root), keeper)
    ranges: list[str | None] = []

    async def cut_first_get(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "/resolve/" not in scope["path"] or scope["method"] != "GET":
            await app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        ranges.append(headers.get(b"range", b"").decode() or None)
        sent = 0

        async def cutting_send(message: Message) -> None:
            nonlocal sent
            await send(message)
            sent += len(message.get("body", b""))
            if len(ranges) == 1 and sent > 11 * 2**20 and message.get("more_body"):
                raise ConnectionResetError("cut for the test")

        await app(scope, receive, cutting_send)

    with ServerThread(cut_first_get) as server:
        install(
            server.url,
            token="tok-acme",
            trusted_keys={signer.key_id: signer.public_key},
            cache_dir=cache,
        )
        got = fetch(server, cache, "open/big", "model.safetensors")
    assert got.read_bytes() == data
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    assert verify_cache("open/big").verified == ("model.safetensors",)
