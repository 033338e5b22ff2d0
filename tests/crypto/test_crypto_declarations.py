"""Declarations are believed only when a configured declarer key signed them."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.crypto.declarations import DECLARATION_PAYLOAD_TYPE, sign_declaration, verify_declaration
from gate.crypto.dsse import IN_TOTO_PAYLOAD_TYPE, key_id, sign_envelope
from gate.crypto.keys import load_public_keys
from gate.errors import SignatureError

DECLARATION = {"repo": "acme/m", "total_operations": 3.1e23, "declarer": "Acme Research"}


@pytest.fixture
def trusted(
    tmp_path: Path, golden_key: ec.EllipticCurvePrivateKey
) -> dict[str, ec.EllipticCurvePublicKey]:
    pem = tmp_path / "declarer.pem"
    pem.write_bytes(
        golden_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return load_public_keys([pem])


def test_trusted_declarer(
    golden_key: ec.EllipticCurvePrivateKey, trusted: dict[str, ec.EllipticCurvePublicKey]
) -> None:
    envelope = sign_declaration(DECLARATION, golden_key)
    assert envelope["payloadType"] == DECLARATION_PAYLOAD_TYPE
    payload, kid = verify_declaration(envelope, trusted)
    assert payload == DECLARATION
    assert kid == key_id(golden_key.public_key())


def test_untrusted_declarer(
    other_key: ec.EllipticCurvePrivateKey, trusted: dict[str, ec.EllipticCurvePublicKey]
) -> None:
    with pytest.raises(SignatureError, match="unknown key id"):
        verify_declaration(sign_declaration(DECLARATION, other_key), trusted)


def test_no_trusted_keys_configured(golden_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(SignatureError, match="no trusted declarer keys"):
        verify_declaration(sign_declaration(DECLARATION, golden_key), {})


def test_another_signed_document_is_not_a_declaration(
    golden_key: ec.EllipticCurvePrivateKey, trusted: dict[str, ec.EllipticCurvePublicKey]
) -> None:
    envelope = sign_envelope(b'{"repo": "acme/m"}', IN_TOTO_PAYLOAD_TYPE, golden_key)
    with pytest.raises(SignatureError, match="wrong payload type"):
        verify_declaration(envelope, trusted)


def test_signed_non_object_payload(
    golden_key: ec.EllipticCurvePrivateKey, trusted: dict[str, ec.EllipticCurvePublicKey]
) -> None:
    envelope = sign_envelope(b"[1, 2]", DECLARATION_PAYLOAD_TYPE, golden_key)
    with pytest.raises(SignatureError, match="not a JSON object"):
        verify_declaration(envelope, trusted)
