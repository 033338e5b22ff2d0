"""Receipts kept beside the cache: re-verification, loading, and keys that rotate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download
from weight_gate_hf import (
    GateVerificationError,
    NotInCacheError,
    install,
    load_verified,
    uninstall,
    verify_cache,
)

from gate.crypto.keys import KeyRing
from tests.plugins.conftest import ReceiptKeeper
from tests.server.conftest import Repos, ServerThread

SHARD1 = "model-00001-of-00002.safetensors"
SHARD2 = "model-00002-of-00002.safetensors"


def fetch(gate: ServerThread, cache: Path, name: str, repo: str = "lab/frontier") -> Path:
    return Path(hf_hub_download(repo, name, endpoint=gate.url, cache_dir=cache))


def test_rotation_keeps_old_receipts_valid(
    gate: ServerThread, keeper: ReceiptKeeper, repos: Repos, tmp_path: Path
) -> None:
    ring = KeyRing(tmp_path / "keys")
    ring.init("pw")
    keeper.signer = ring.active_signer("pw")
    cache = tmp_path / "cache"
    # The recipient pins the gate's public key folder; a rotated-in key is a new file in it.
    install(gate.url, token="tok-acme", trusted_keys=tmp_path / "keys" / "public", cache_dir=cache)
    first = fetch(gate, cache, SHARD1)
    old_kid = keeper.signer.key_id
    ring.rotate("pw")
    keeper.signer = ring.active_signer("pw")
    assert keeper.signer.key_id != old_kid
    install(gate.url, token="tok-acme", trusted_keys=tmp_path / "keys" / "public", cache_dir=cache)
    second = fetch(gate, cache, SHARD2)
    report = verify_cache("lab/frontier")
    assert set(report.verified) == {SHARD1, SHARD2}
    assert set(load_verified(first)) == {"w", "b"} and set(load_verified(second)) == {"w", "b"}


def test_keys_fetched_from_the_endpoint(gate: ServerThread, repos: Repos, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    config = install(gate.url, token="tok-acme", trusted_keys="endpoint", cache_dir=cache)
    assert fetch(gate, cache, SHARD1).is_file()
    assert len(config.keys()) == 1
    assert config.recipient_id() == "r-acme"  # learned from /api/whoami-v2


def test_tampered_cache_is_caught(
    gate: ServerThread, keeper: ReceiptKeeper, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert keeper.signer is not None
    install(
        gate.url,
        token="tok-acme",
        trusted_keys={keeper.signer.key_id: keeper.signer.public_key},
        cache_dir=cache,
    )
    path = fetch(gate, cache, SHARD1)
    fetch(gate, cache, SHARD2)
    verify_cache("lab/frontier")
    blob = path.resolve()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    with pytest.raises(GateVerificationError) as caught:
        verify_cache("lab/frontier")
    message = str(caught.value)
    assert "1 cached file(s)" in message and SHARD1 in message and "digest mismatch" in message
    with pytest.raises(GateVerificationError, match="digest mismatch"):
        load_verified(path)
    # A cached file is returned by the client without asking the gate: the tampered bytes
    # come back, which is exactly why loading goes through load_verified.
    assert fetch(gate, cache, SHARD1).read_bytes() == bytes(data)


def test_receipt_file_tampered_or_deleted(
    gate: ServerThread, keeper: ReceiptKeeper, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert keeper.signer is not None
    install(
        gate.url,
        token="tok-acme",
        trusted_keys={keeper.signer.key_id: keeper.signer.public_key},
        cache_dir=cache,
    )
    path = fetch(gate, cache, SHARD1)
    (receipt,) = (cache / "gate-receipts").rglob("*.receipt.json")
    text = receipt.read_text()
    receipt.write_text(text.replace('"sig": "', '"sig": "AAAA'))
    with pytest.raises(GateVerificationError, match="receipt rejected"):
        load_verified(path)
    receipt.unlink()
    with pytest.raises(GateVerificationError, match="parameter file without a receipt"):
        verify_cache("lab/frontier")


def test_load_verified_refuses_unreceipted_file(
    gate: ServerThread, keeper: ReceiptKeeper, tmp_path: Path
) -> None:
    """Weights downloaded without the plugin have no receipt: they do not load."""
    cache = tmp_path / "cache"
    plain = Path(
        hf_hub_download(
            "lab/frontier", SHARD1, endpoint=gate.url, cache_dir=cache, token="tok-acme"
        )
    )
    assert keeper.signer is not None
    keys = {keeper.signer.key_id: keeper.signer.public_key}
    with pytest.raises(GateVerificationError, match="no gate receipt for this file; not loaded"):
        load_verified(plain, trusted_keys=keys, recipient_id="r-acme")
    with pytest.raises(GateVerificationError, match="not a file of a Hugging Face cache snapshot"):
        load_verified(tmp_path / "elsewhere.safetensors", trusted_keys=keys, recipient_id="r-acme")


def test_verify_without_the_plugin_installed(
    gate: ServerThread, keeper: ReceiptKeeper, tmp_path: Path
) -> None:
    """Offline re-checking: pinned keys and recipient, no network, no installed plugin."""
    cache = tmp_path / "cache"
    assert keeper.signer is not None
    keys = {keeper.signer.key_id: keeper.signer.public_key}
    install(gate.url, token="tok-acme", trusted_keys=keys, cache_dir=cache)
    path = fetch(gate, cache, SHARD1)
    uninstall()
    report = verify_cache("lab/frontier", cache_dir=cache, trusted_keys=keys, recipient_id="r-acme")
    assert report.verified == (SHARD1,)
    with pytest.raises(GateVerificationError, match="another recipient"):
        load_verified(path, trusted_keys=keys, recipient_id="r-dragon")
    # Receipts last an hour here: cached files still verify later, unless `now` insists.
    later = datetime.now(UTC) + timedelta(hours=2)
    assert load_verified(path, trusted_keys=keys, recipient_id="r-acme")["b"].shape == (4,)
    with pytest.raises(GateVerificationError, match="expired"):
        load_verified(path, trusted_keys=keys, recipient_id="r-acme", now=later)
    with pytest.raises(NotInCacheError):
        verify_cache("lab/other", cache_dir=cache, trusted_keys=keys, recipient_id="r-acme")
