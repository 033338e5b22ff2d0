"""Receipts: golden payload bytes, header round trip, and every mismatch named on verify."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.core.canonical import canonical_json
from gate.core.values import Basis, Decision, Verdict
from gate.crypto.dsse import IN_TOTO_PAYLOAD_TYPE, pae
from gate.crypto.keys import Signer
from gate.crypto.receipts import (
    RECEIPT_PREDICATE_TYPE,
    ReceiptClaims,
    build_receipt_statement,
    claims_to_dict,
    decode_receipt_header,
    encode_receipt_header,
    sign_receipt,
    verify_receipt,
)
from gate.errors import InputError, SignatureError

GOLDEN_KEY_ID = "a9210a34f8925252a1a5d3881facc4ed447ccc4573f2293298d54bfde5dfcc75"
ISSUED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CLAIMS = ReceiptClaims(
    repo_id="acme/frontier-1",
    commit="0123456789abcdef0123456789abcdef01234567",
    path="model-00001-of-00002.safetensors",
    sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    size=4096,
    recipient_id="rcp_7",
    recipient_name="Example Labs GmbH",
    destination="DE",
    verdict="allow",
    basis="license_exception_aia",
    license_used=None,
    declaration_id="decl_3",
    ruleset_id="ai-diffusion-2025",
    ruleset_sha256="ab" * 32,
    decision_id="dec_42",
    issued_at=ISSUED,
    expires_at=ISSUED + timedelta(hours=1),
)
# The exact bytes signed for CLAIMS: changing the encoder or the predicate breaks this on purpose.
GOLDEN_PAYLOAD = (
    b'{"_type":"https://in-toto.io/Statement/v1","predicate":{"basis":"license_exception_aia",'
    b'"commit":"0123456789abcdef0123456789abcdef01234567","decision_id":"dec_42",'
    b'"declaration_used":"decl_3","destination":"DE","expires_at":"2026-03-01T13:00:00Z",'
    b'"issued_at":"2026-03-01T12:00:00Z","license_used":null,'
    b'"recipient":{"id":"rcp_7","name":"Example Labs GmbH"},"repo":"acme/frontier-1",'
    b'"ruleset":{"id":"ai-diffusion-2025","sha256":"'
    + b"ab"
    * 32
    + b'"},"size":4096,"verdict":"allow"},"predicateType":"https://weight-gate.dev/receipt/v1",'
    b'"subject":[{"digest":{"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},'
    b'"name":"model-00001-of-00002.safetensors"}]}'
)
# Made once with the golden key (randomized ECDSA): old receipts must keep verifying.
GOLDEN_SIG = (
    "MEQCIDzH6hefOIG0/BghCZgodbVrKHChl52g1dTHccbJldX3AiBs"
    "QukGJZ91Z0xZkBJbUypnR8lRewxvBw4jLZPBv7IYCw=="
)


def _expect(**overrides: Any) -> dict[str, Any]:
    expected: dict[str, Any] = {
        "repo_id": CLAIMS.repo_id,
        "commit": CLAIMS.commit,
        "path": CLAIMS.path,
        "sha256": CLAIMS.sha256,
        "size": CLAIMS.size,
        "recipient_id": CLAIMS.recipient_id,
        "now": ISSUED + timedelta(minutes=5),
    }
    expected.update(overrides)
    return expected


@pytest.fixture
def signer(golden_key: ec.EllipticCurvePrivateKey) -> Signer:
    return Signer.from_private_key(golden_key)


@pytest.fixture
def keys(signer: Signer) -> dict[str, ec.EllipticCurvePublicKey]:
    return {signer.key_id: signer.public_key}


def test_golden_statement_bytes_and_pae() -> None:
    statement = build_receipt_statement(CLAIMS)
    assert statement["predicateType"] == RECEIPT_PREDICATE_TYPE
    assert canonical_json(statement) == GOLDEN_PAYLOAD
    assert pae(IN_TOTO_PAYLOAD_TYPE, GOLDEN_PAYLOAD).startswith(
        b"DSSEv1 28 application/vnd.in-toto+json 720 {"
    )


def test_stored_golden_receipt_still_verifies(keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    envelope = {
        "payload": base64.b64encode(GOLDEN_PAYLOAD).decode(),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": [{"keyid": GOLDEN_KEY_ID, "sig": GOLDEN_SIG}],
    }
    assert verify_receipt(envelope, keys, **_expect()) == CLAIMS


def test_sign_header_round_trip(signer: Signer, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    envelope = sign_receipt(build_receipt_statement(CLAIMS), signer)
    assert envelope["signatures"][0]["keyid"] == signer.key_id
    header = encode_receipt_header(envelope)
    assert header.isascii() and "=" not in header and "+" not in header and "/" not in header
    assert decode_receipt_header(header) == envelope
    assert verify_receipt(decode_receipt_header(header), keys, **_expect()) == CLAIMS


def test_non_ascii_names_survive_the_header(
    signer: Signer, keys: dict[str, ec.EllipticCurvePublicKey]
) -> None:
    claims = dataclasses.replace(CLAIMS, recipient_name="Société Générale ÄI")
    header = encode_receipt_header(sign_receipt(build_receipt_statement(claims), signer))
    got = verify_receipt(decode_receipt_header(header), keys, **_expect())
    assert got.recipient_name == "Société Générale ÄI"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"recipient_id": "rcp_8"}, "another recipient"),
        ({"path": "model-00002-of-00002.safetensors"}, "another file"),
        ({"commit": "f" * 40}, "another commit"),
        ({"repo_id": "acme/other"}, "another repository"),
        ({"sha256": "0" * 64}, "digest mismatch"),
        ({"size": 4097}, "size mismatch"),
        ({"now": ISSUED + timedelta(hours=1)}, "expired"),
        ({"now": ISSUED - timedelta(hours=1)}, "issued in the future"),
    ],
)
def test_each_mismatch_is_named(
    signer: Signer,
    keys: dict[str, ec.EllipticCurvePublicKey],
    override: dict[str, Any],
    message: str,
) -> None:
    envelope = sign_receipt(build_receipt_statement(CLAIMS), signer)
    with pytest.raises(SignatureError, match=message):
        verify_receipt(envelope, keys, **_expect(**override))


def test_unknown_key_and_bad_signature(
    signer: Signer, other_key: ec.EllipticCurvePrivateKey
) -> None:
    envelope = sign_receipt(build_receipt_statement(CLAIMS), signer)
    other = Signer.from_private_key(other_key)
    with pytest.raises(SignatureError, match="unknown key id"):
        verify_receipt(envelope, {other.key_id: other.public_key}, **_expect())
    with pytest.raises(SignatureError, match="bad signature"):
        verify_receipt(envelope, {signer.key_id: other.public_key}, **_expect())


def test_a_signed_statement_of_another_kind_is_not_a_receipt(
    signer: Signer, keys: dict[str, ec.EllipticCurvePublicKey]
) -> None:
    statement = build_receipt_statement(CLAIMS)
    statement["predicateType"] = "https://model_signing/signature/v1.0"
    with pytest.raises(SignatureError, match="not a receipt"):
        verify_receipt(sign_receipt(statement, signer), keys, **_expect())


def test_a_signed_but_malformed_predicate_is_refused(
    signer: Signer, keys: dict[str, ec.EllipticCurvePublicKey]
) -> None:
    statement = build_receipt_statement(CLAIMS)
    statement["predicate"]["size"] = "4096"
    with pytest.raises(SignatureError, match="malformed receipt: size"):
        verify_receipt(sign_receipt(statement, signer), keys, **_expect())
    statement = build_receipt_statement(CLAIMS)
    statement["predicate"]["verdict"] = "deny"
    with pytest.raises(SignatureError, match="only issued for allow"):
        verify_receipt(sign_receipt(statement, signer), keys, **_expect())


@pytest.mark.parametrize(
    "header", ["", "not base64!", "e30", base64.urlsafe_b64encode(b"[1]").decode()]
)
def test_malformed_headers(header: str) -> None:
    if header == "e30":  # '{}': decodes, but is not an envelope; verify must say so
        with pytest.raises(SignatureError, match="malformed envelope"):
            verify_receipt(decode_receipt_header(header), {}, **_expect())
        return
    with pytest.raises(SignatureError, match="malformed X-Gate-Receipt"):
        decode_receipt_header(header)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"verdict": "hold"}, "verdict"),
        ({"commit": "main"}, "commit"),
        ({"sha256": "ABC"}, "sha256"),
        ({"size": -1}, "size"),
        ({"recipient_id": ""}, "recipient_id"),
        ({"expires_at": ISSUED}, "expires_at"),
        ({"issued_at": datetime(2026, 3, 1, 12)}, "time"),
    ],
)
def test_claims_are_validated_before_signing(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        dataclasses.replace(CLAIMS, **change)
    assert info.value.field == field


def test_claims_from_decision() -> None:
    decision = Decision(
        verdict=Verdict.ALLOW,
        basis=Basis.LICENSED,
        reasons=(),
        ruleset_id="ai-diffusion-2025",
        ruleset_sha256="cd" * 32,
        facts={},
        license_used="D123456",
    )
    claims = ReceiptClaims.from_decision(
        decision,
        decision_id="dec_1",
        repo_id="acme/m",
        commit="a" * 40,
        path="w.safetensors",
        sha256="b" * 64,
        size=1,
        recipient_id="r",
        recipient_name="R",
        destination="IN",
        declaration_id=None,
        issued_at=ISSUED,
        ttl=timedelta(minutes=10),
    )
    assert (claims.basis, claims.license_used, claims.ruleset_sha256) == (
        "licensed",
        "D123456",
        "cd" * 32,
    )
    assert claims.expires_at == ISSUED + timedelta(minutes=10)
    assert claims_to_dict(claims)["expires_at"] == "2026-03-01T12:10:00Z"
    assert json.loads(json.dumps(claims_to_dict(claims)))["verdict"] == "allow"
    assert date(2026, 3, 1) == claims.issued_at.date()
