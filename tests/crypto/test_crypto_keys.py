"""The key ring on disk: encrypted private keys, rotation, JWK set, trusted key files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.crypto.dsse import key_id, verify_envelope
from gate.crypto.keys import KeyRing, Signer, jwk, load_public_keys, public_keys_from_jwks
from gate.errors import InputError, NotFoundError, SignatureError

PASS = "correct horse battery staple"


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    ring = KeyRing(tmp_path / "keys")
    ring.init(PASS)
    return ring


def test_init_writes_an_encrypted_private_key_readable_only_by_the_owner(ring: KeyRing) -> None:
    kid = ring.active_key_id
    private = ring.directory / "private" / f"{kid}.pem"
    data = private.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((ring.directory / "keyring.json").stat().st_mode) == 0o600
    with pytest.raises(TypeError):  # really encrypted: cryptography needs the password
        serialization.load_pem_private_key(data, password=None)
    # The id is derived from the key, so anyone can recompute it from the exported PEM.
    public = serialization.load_pem_public_key(ring.export_public_pem().encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert key_id(public) == kid


def test_signer_signs_der_ecdsa_that_the_public_key_verifies(ring: KeyRing) -> None:
    signer = ring.active_signer(PASS)
    assert signer.key_id == ring.active_key_id
    signature = signer.sign(b"checkpoint 7")
    assert signature[0] == 0x30  # DER SEQUENCE
    ring.public_keys()[signer.key_id].verify(signature, b"checkpoint 7", ec.ECDSA(hashes.SHA256()))
    assert PASS not in repr(signer) and "key_id" in repr(signer)


@pytest.mark.parametrize("bad", [None, ""])
def test_missing_passphrase_is_an_input_error(ring: KeyRing, bad: str | None) -> None:
    with pytest.raises(InputError, match="GATE_KEY_PASSPHRASE"):
        ring.active_signer(bad)


def test_wrong_passphrase_is_a_clear_signature_error(ring: KeyRing) -> None:
    with pytest.raises(SignatureError, match="wrong passphrase"):
        ring.active_signer("not it")


def test_init_twice_is_refused(ring: KeyRing) -> None:
    with pytest.raises(InputError, match="already holds a key ring"):
        ring.init(PASS)


def test_uninitialized_directory_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="gate keys init"):
        KeyRing(tmp_path / "nothing").active_signer(PASS)


def test_rotation_retires_the_old_key_but_keeps_it_for_verification(ring: KeyRing) -> None:
    old_signer = ring.active_signer(PASS)
    old_envelope = old_signer.sign_envelope(b"signed before rotation", "t")
    new_kid = ring.rotate(PASS)
    assert new_kid != old_signer.key_id
    assert ring.active_key_id == new_kid
    assert ring.active_signer(PASS).key_id == new_kid
    assert [(k.kid, k.status) for k in ring.list_keys()] == [
        (new_kid, "active"),
        (old_signer.key_id, "retired"),
    ]
    assert ring.list_keys()[1].retired is not None
    # The retired private key is gone; its public key still verifies what it signed.
    assert not (ring.directory / "private" / f"{old_signer.key_id}.pem").exists()
    assert verify_envelope(old_envelope, ring.public_keys()) == b"signed before rotation"


def test_rotation_with_a_wrong_passphrase_changes_nothing(ring: KeyRing) -> None:
    before = ring.active_key_id
    with pytest.raises(SignatureError, match="wrong passphrase"):
        ring.rotate("typo")
    assert ring.active_key_id == before
    assert len(ring.list_keys()) == 1


def test_rotation_can_change_the_passphrase(ring: KeyRing) -> None:
    ring.rotate(PASS, new_passphrase="new secret")
    ring.active_signer("new secret")
    with pytest.raises(SignatureError):
        ring.active_signer(PASS)


def test_jwks_lists_active_and_retired_keys_and_round_trips(ring: KeyRing) -> None:
    ring.rotate(PASS)
    document = ring.jwks()
    assert [k["status"] for k in document["keys"]] == ["active", "retired"]
    for entry in document["keys"]:
        assert entry["kty"] == "EC" and entry["crv"] == "P-256"
        assert entry["alg"] == "ES256" and entry["use"] == "sig"
        assert len(entry["x"]) == 43 and "=" not in entry["x"]  # 32 bytes, base64url, no padding
    keys = public_keys_from_jwks(json.loads(json.dumps(document)))
    assert set(keys) == set(ring.public_keys())
    for kid, key in keys.items():
        assert key.public_numbers() == ring.public_keys()[kid].public_numbers()


def test_jwk_with_a_wrong_kid_is_refused(golden_key: ec.EllipticCurvePrivateKey) -> None:
    entry = jwk(golden_key.public_key())
    entry["kid"] = "someone-else"
    with pytest.raises(SignatureError, match="has kid 'someone-else'"):
        public_keys_from_jwks({"keys": [entry]})


def test_jwk_not_on_the_curve_is_refused(golden_key: ec.EllipticCurvePrivateKey) -> None:
    entry = jwk(golden_key.public_key())
    entry["y"] = entry["x"]
    with pytest.raises(SignatureError, match="not a point on P-256"):
        public_keys_from_jwks({"keys": [entry]})


def test_tampered_public_key_file_is_detected(
    ring: KeyRing, other_key: ec.EllipticCurvePrivateKey
) -> None:
    kid = ring.active_key_id
    other_pem = other_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (ring.directory / "public" / f"{kid}.pem").write_bytes(other_pem)
    with pytest.raises(SignatureError, match="does not match its id"):
        ring.public_keys()


def test_load_public_keys_from_pem_files(
    tmp_path: Path, golden_key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    paths = []
    for name, key in (("a.pem", golden_key), ("b.pem", other_key)):
        path = tmp_path / name
        path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        paths.append(path)
    keys = load_public_keys(paths)
    assert set(keys) == {key_id(golden_key.public_key()), key_id(other_key.public_key())}


def test_load_public_keys_names_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.pem"):
        load_public_keys([tmp_path / "missing.pem"])
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(SignatureError, match=r"junk\.pem: not a PEM public key"):
        load_public_keys([junk])
    p384 = tmp_path / "p384.pem"
    p384.write_bytes(
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SignatureError, match="P-256"):
        load_public_keys([p384])


def test_signer_from_private_key(golden_key: ec.EllipticCurvePrivateKey) -> None:
    signer = Signer.from_private_key(golden_key)
    assert signer.key_id == key_id(golden_key.public_key())
    with pytest.raises(SignatureError, match="P-256"):
        Signer.from_private_key(ec.generate_private_key(ec.SECP384R1()))


def test_deterministic_envelopes_repeat_and_random_ones_do_not(
    golden_key: ec.EllipticCurvePrivateKey,
) -> None:
    signer = Signer.from_private_key(golden_key)
    a = signer.sign_envelope(b"same", "t", deterministic=True)
    b = signer.sign_envelope(b"same", "t", deterministic=True)
    c = signer.sign_envelope(b"same", "t")
    d = signer.sign_envelope(b"same", "t")
    assert a == b
    assert c != d
