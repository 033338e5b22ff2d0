"""Snapshot bundles, checked by the stock `model_signing verify key` CLI in a subprocess.

The gate never re-hashes files for a bundle: it is built from known digests. These tests write
real files (a real safetensors file among them), hash them once the way a hub does, build the
bundle from those digests, and let the unmodified OpenSSF tool judge it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from safetensors.numpy import save_file

from gate.core.canonical import sha256_hex
from gate.crypto.keys import Signer
from gate.crypto.snapshot_bundle import (
    SIDECAR_PATH,
    build_snapshot_bundle,
    encode_bundle,
    public_key_hint,
    snapshot_statement,
    verify_snapshot_bundle,
)
from gate.errors import InputError, SignatureError

MODEL_SIGNING = Path(sys.executable).with_name("model_signing")
COMMIT = "c" * 40

GOLDEN_DIGESTS = {
    "model.safetensors": "11" * 32,
    "config.json": "22" * 32,
    "sub/tokenizer.json": "33" * 32,
    "sub.txt": "44" * 32,
    ".gitattributes": "55" * 32,
}
GOLDEN_PAYLOAD = (
    '{"_type":"https://in-toto.io/Statement/v1","predicate":{"resources":['
    '{"algorithm":"sha256","digest":"' + "22" * 32 + '","name":"config.json"},'
    '{"algorithm":"sha256","digest":"' + "11" * 32 + '","name":"model.safetensors"},'
    '{"algorithm":"sha256","digest":"' + "33" * 32 + '","name":"sub/tokenizer.json"},'
    '{"algorithm":"sha256","digest":"' + "44" * 32 + '","name":"sub.txt"}],'
    '"serialization":{"allow_symlinks":true,"hash_type":"sha256","ignore_paths":'
    '["weight-gate.sig",".git",".gitattributes",".github",".gitignore"],"method":"files"},'
    '"weight_gate":{"commit":"' + COMMIT + '","decision_ids":{"model.safetensors":"dec_1"},'
    '"recipient_id":"rcp_7","repo":"acme/m","type":"https://weight-gate.dev/snapshot/v1"}},'
    '"predicateType":"https://model_signing/signature/v1.0","subject":[{"digest":{"sha256":'
    '"f517bdc86ad259b734ffc3ad78246325ecb55127fca9718f6a40faa63a9f534d"},"name":"' + COMMIT + '"}]}'
).encode()
# Deterministic (RFC 6979) signature: the whole sidecar file is a function of key and inputs.
GOLDEN_BUNDLE_SHA256 = "343dd11adfb48616a8f4af689665e6fdb4a14dc9905d2ab2a4974992594115d2"


@pytest.fixture
def signer(golden_key: ec.EllipticCurvePrivateKey) -> Signer:
    return Signer.from_private_key(golden_key)


@pytest.fixture
def public_pem(tmp_path: Path, signer: Signer) -> Path:
    path = tmp_path / "gate.pub"
    path.write_bytes(
        signer.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _write_model(root: Path) -> dict[str, bytes]:
    """A small model folder with real files; returns path -> bytes."""
    root.mkdir(parents=True)
    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(root / "model.safetensors"))
    (root / "config.json").write_text('{"hidden_size": 4}')
    (root / "sub").mkdir()
    (root / "sub" / "tokenizer.json").write_text('{"vocab": {"a": 0}}')
    (root / "sub.txt").write_text("a file whose name sorts between sub/ entries")
    (root / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _digests(files: dict[str, bytes]) -> dict[str, str]:
    # Stands in for the store's / hub's known digests (LFS oids), computed once at upload.
    return {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}


def _bundle(signer: Signer, files: dict[str, bytes]) -> bytes:
    digests = _digests(files)
    return encode_bundle(
        build_snapshot_bundle(
            digests,
            signer,
            recipient_id="rcp_7",
            decision_ids={p: f"dec_{i}" for i, p in enumerate(sorted(digests))},
            repo_id="acme/m",
            commit=COMMIT,
        )
    )


def _verify(
    model: Path, signature: Path, public_key: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(MODEL_SIGNING),
            "verify",
            "key",
            "--signature",
            str(signature),
            "--public_key",
            str(public_key),
            *extra,
            str(model),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _mismatch_names(stderr: str, path: str) -> bool:
    # model_signing prints a Python list repr, so the quotes around the path come escaped.
    return re.search(r"Hash mismatch for \\?'" + re.escape(path) + r"\\?'", stderr) is not None


def test_golden_bundle(signer: Signer) -> None:
    bundle = build_snapshot_bundle(
        GOLDEN_DIGESTS,
        signer,
        recipient_id="rcp_7",
        decision_ids={"model.safetensors": "dec_1"},
        repo_id="acme/m",
        commit=COMMIT,
    )
    assert base64.b64decode(bundle["dsseEnvelope"]["payload"]) == GOLDEN_PAYLOAD
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == public_key_hint(signer.public_key)
    assert sha256_hex(encode_bundle(bundle)) == GOLDEN_BUNDLE_SHA256


@pytest.mark.slow
def test_stock_cli_verifies_a_folder_and_fails_after_one_byte_changes(
    tmp_path: Path, signer: Signer, public_pem: Path
) -> None:
    model = tmp_path / "snapshot"
    files = _write_model(model)
    (model / SIDECAR_PATH).write_bytes(_bundle(signer, files))

    ok = _verify(model, model / SIDECAR_PATH, public_pem)
    assert ok.returncode == 0, ok.stderr
    assert "Verification succeeded" in ok.stdout

    weights = bytearray((model / "model.safetensors").read_bytes())
    weights[-1] ^= 0x01
    (model / "model.safetensors").write_bytes(bytes(weights))
    bad = _verify(model, model / SIDECAR_PATH, public_pem)
    assert bad.returncode == 1
    assert _mismatch_names(bad.stderr, "model.safetensors")


@pytest.mark.slow
def test_stock_cli_refuses_another_key_and_a_missing_file(
    tmp_path: Path, signer: Signer, other_key: ec.EllipticCurvePrivateKey
) -> None:
    model = tmp_path / "snapshot"
    files = _write_model(model)
    (model / SIDECAR_PATH).write_bytes(_bundle(signer, files))
    other_pem = tmp_path / "other.pub"
    other_pem.write_bytes(
        other_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    wrong_key = _verify(model, model / SIDECAR_PATH, other_pem)
    assert wrong_key.returncode == 1 and "Key mismatch" in wrong_key.stderr

    (model / "config.json").unlink()
    gate_pem = tmp_path / "gate.pub"
    gate_pem.write_bytes(
        signer.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    missing = _verify(model, model / SIDECAR_PATH, gate_pem)
    assert missing.returncode == 1 and "Missing files" in missing.stderr


def _hf_cache_layout(tmp_path: Path, files: dict[str, bytes], sidecar: bytes) -> Path:
    """Lay files out as huggingface_hub's cache does: snapshot entries are symlinks to blobs."""
    repo = tmp_path / "hub" / "models--acme--m"
    blobs = repo / "blobs"
    blobs.mkdir(parents=True)
    snapshot = repo / "snapshots" / COMMIT
    for path, data in {**files, SIDECAR_PATH: sidecar}.items():
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


@pytest.mark.slow
def test_stock_cli_verifies_a_hugging_face_cache_snapshot_of_symlinks(
    tmp_path: Path, signer: Signer, public_pem: Path
) -> None:
    files = _write_model(tmp_path / "src")
    snapshot = _hf_cache_layout(tmp_path, files, _bundle(signer, files))
    assert (snapshot / "sub" / "tokenizer.json").is_symlink()
    assert (snapshot / SIDECAR_PATH).is_symlink()

    refused = _verify(snapshot, snapshot / SIDECAR_PATH, public_pem)
    assert refused.returncode == 1 and "symlink" in refused.stderr  # the layout really is links
    ok = _verify(snapshot, snapshot / SIDECAR_PATH, public_pem, "--allow_symlinks")
    assert ok.returncode == 0, ok.stderr

    blob = (snapshot / "model.safetensors").resolve()
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    bad = _verify(snapshot, snapshot / SIDECAR_PATH, public_pem, "--allow_symlinks")
    assert bad.returncode == 1 and _mismatch_names(bad.stderr, "model.safetensors")


def test_statement_matches_what_model_signing_itself_computes(tmp_path: Path) -> None:
    """Same resources and root digest as model_signing's own hashing of the folder."""
    from model_signing import hashing as ms_hashing
    from model_signing._signing.signing import Payload

    model = tmp_path / "m"
    files = _write_model(model)
    theirs = Payload(ms_hashing.Config().hash(model)).statement.pb
    ours = snapshot_statement(_digests(files), model_name="m", gate_predicate={})
    their_resources = [dict(r) for r in theirs.predicate["resources"]]
    assert [(r["name"], r["digest"]) for r in their_resources] == [
        (r["name"], r["digest"]) for r in ours["predicate"]["resources"]
    ]
    assert theirs.subject[0].digest["sha256"] == ours["subject"][0]["digest"]["sha256"]


def test_own_verifier_returns_the_claims(
    signer: Signer, other_key: ec.EllipticCurvePrivateKey
) -> None:
    bundle = json.loads(_bundle(signer, {"a.bin": b"a", "b/c.bin": b"c"}))
    manifest = verify_snapshot_bundle(bundle, {signer.key_id: signer.public_key})
    assert manifest.digests == _digests({"a.bin": b"a", "b/c.bin": b"c"})
    assert manifest.gate["recipient_id"] == "rcp_7"
    assert manifest.gate["decision_ids"] == {"a.bin": "dec_0", "b/c.bin": "dec_1"}
    assert manifest.key_id == signer.key_id
    other = Signer.from_private_key(other_key)
    with pytest.raises(SignatureError, match="unknown key id"):
        verify_snapshot_bundle(bundle, {other.key_id: other.public_key})
    bundle["mediaType"] = "application/json"
    with pytest.raises(SignatureError, match="not a snapshot bundle"):
        verify_snapshot_bundle(bundle, {signer.key_id: signer.public_key})


@pytest.mark.parametrize(
    ("digests", "decisions", "message"),
    [
        ({"../x": "ab" * 32}, {}, "not a normalized relative file path"),
        ({"/abs": "ab" * 32}, {}, "not a normalized relative file path"),
        ({"a//b": "ab" * 32}, {}, "not a normalized relative file path"),
        ({"./a": "ab" * 32}, {}, "not a normalized relative file path"),
        ({"a": "AB" * 32}, {}, "lowercase hex sha256"),
        ({SIDECAR_PATH: "ab" * 32}, {}, "sidecar"),
        ({"a": "ab" * 32}, {"b": "dec"}, "not in the snapshot"),
    ],
)
def test_bad_inputs_are_refused(
    signer: Signer, digests: dict[str, str], decisions: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        build_snapshot_bundle(
            digests, signer, recipient_id="r", decision_ids=decisions, repo_id="a/b", commit=COMMIT
        )
