"""DSSE envelopes: PAE bytes pinned by golden vectors, signatures checked both ways."""

from __future__ import annotations

import base64
import copy

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gate.core.canonical import canonical_json
from gate.crypto.dsse import IN_TOTO_PAYLOAD_TYPE, key_id, pae, sign_envelope, verify_envelope
from gate.errors import SignatureError

GOLDEN_KEY_ID = "a9210a34f8925252a1a5d3881facc4ed447ccc4573f2293298d54bfde5dfcc75"
GOLDEN_STATEMENT = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "model.safetensors", "digest": {"sha256": "ab" * 32}}],
    "predicateType": "https://example.test/v1",
    "predicate": {"n": 1},
}
GOLDEN_PAYLOAD = (
    b'{"_type":"https://in-toto.io/Statement/v1","predicate":{"n":1},'
    b'"predicateType":"https://example.test/v1","subject":[{"digest":{"sha256":"'
    + b"ab" * 32
    + b'"},"name":"model.safetensors"}]}'
)
# Made once with the golden key; ECDSA is randomized, so this pins that old signatures still verify.
GOLDEN_SIG = (
    "MEUCIHa3SZyfSX7lXCh448/W207ER8gbYRsEugSCSHvmsgaGAiEA"
    "uDYt60pWL0//dVCFSdqf4ZSzDP9U1+SovJ9qFovzhA0="
)


def test_pae_matches_the_dsse_spec_example() -> None:
    # The worked example in the DSSE v1 protocol document.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t\u00e9", "\u00e9".encode()) == b"DSSEv1 3 t\xc3\xa9 2 \xc3\xa9"
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_pae_agrees_with_sigstore() -> None:
    from sigstore.dsse import _pae as sigstore_pae

    assert pae(IN_TOTO_PAYLOAD_TYPE, GOLDEN_PAYLOAD) == sigstore_pae(
        IN_TOTO_PAYLOAD_TYPE, GOLDEN_PAYLOAD
    )


def test_golden_payload_and_pae(golden_key: ec.EllipticCurvePrivateKey) -> None:
    assert canonical_json(GOLDEN_STATEMENT) == GOLDEN_PAYLOAD
    assert pae(IN_TOTO_PAYLOAD_TYPE, GOLDEN_PAYLOAD) == (
        b"DSSEv1 28 application/vnd.in-toto+json 233 " + GOLDEN_PAYLOAD
    )
    assert key_id(golden_key.public_key()) == GOLDEN_KEY_ID


def test_stored_golden_signature_still_verifies(golden_key: ec.EllipticCurvePrivateKey) -> None:
    envelope = {
        "payload": base64.b64encode(GOLDEN_PAYLOAD).decode(),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": [{"keyid": GOLDEN_KEY_ID, "sig": GOLDEN_SIG}],
    }
    keys = {GOLDEN_KEY_ID: golden_key.public_key()}
    assert verify_envelope(envelope, keys, payload_type=IN_TOTO_PAYLOAD_TYPE) == GOLDEN_PAYLOAD


def test_sign_then_verify_round_trip(golden_key: ec.EllipticCurvePrivateKey) -> None:
    envelope = sign_envelope(GOLDEN_PAYLOAD, IN_TOTO_PAYLOAD_TYPE, golden_key)
    assert envelope["payloadType"] == IN_TOTO_PAYLOAD_TYPE
    assert base64.b64decode(envelope["payload"]) == GOLDEN_PAYLOAD
    assert envelope["signatures"][0]["keyid"] == GOLDEN_KEY_ID
    assert verify_envelope(envelope, {GOLDEN_KEY_ID: golden_key.public_key()}) == GOLDEN_PAYLOAD


def test_explicit_keyid_is_used(golden_key: ec.EllipticCurvePrivateKey) -> None:
    envelope = sign_envelope(b"x", "t", golden_key, keyid="mine")
    assert envelope["signatures"][0]["keyid"] == "mine"
    assert verify_envelope(envelope, {"mine": golden_key.public_key()}) == b"x"


def _signed(key: ec.EllipticCurvePrivateKey) -> dict[str, object]:
    return sign_envelope(GOLDEN_PAYLOAD, IN_TOTO_PAYLOAD_TYPE, key)


def test_tampered_payload_is_a_bad_signature(golden_key: ec.EllipticCurvePrivateKey) -> None:
    envelope = _signed(golden_key)
    envelope["payload"] = base64.b64encode(GOLDEN_PAYLOAD.replace(b'"n":1', b'"n":2')).decode()
    with pytest.raises(SignatureError, match="bad signature"):
        verify_envelope(envelope, {GOLDEN_KEY_ID: golden_key.public_key()})


def test_changed_payload_type_is_a_bad_signature(golden_key: ec.EllipticCurvePrivateKey) -> None:
    # PAE binds the type: relabelling a signed payload breaks the signature.
    envelope = _signed(golden_key)
    envelope["payloadType"] = "application/json"
    with pytest.raises(SignatureError, match="bad signature"):
        verify_envelope(envelope, {GOLDEN_KEY_ID: golden_key.public_key()})


def test_wrong_payload_type_is_named(golden_key: ec.EllipticCurvePrivateKey) -> None:
    envelope = _signed(golden_key)
    with pytest.raises(SignatureError, match="wrong payload type"):
        verify_envelope(
            envelope, {GOLDEN_KEY_ID: golden_key.public_key()}, payload_type="application/json"
        )


def test_unknown_key_id(
    golden_key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    envelope = _signed(golden_key)
    with pytest.raises(SignatureError, match="unknown key id"):
        verify_envelope(envelope, {key_id(other_key.public_key()): other_key.public_key()})


def test_key_id_names_the_key_that_must_verify(
    golden_key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    # A signature by one key labelled with another trusted key's id must not verify.
    envelope = sign_envelope(GOLDEN_PAYLOAD, IN_TOTO_PAYLOAD_TYPE, other_key, keyid=GOLDEN_KEY_ID)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_envelope(envelope, {GOLDEN_KEY_ID: golden_key.public_key()})


def test_any_matching_signature_suffices(
    golden_key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    envelope = _signed(other_key)
    envelope["signatures"] = [*_signed(golden_key)["signatures"], *envelope["signatures"]]  # type: ignore[misc]
    keys = {key_id(other_key.public_key()): other_key.public_key()}
    assert verify_envelope(envelope, keys) == GOLDEN_PAYLOAD


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.pop("payload"), "missing 'payload'"),
        (lambda e: e.pop("signatures"), "missing 'signatures'"),
        (lambda e: e.__setitem__("signatures", []), "non-empty list"),
        (lambda e: e.__setitem__("payload", "not base64!"), "payload is not valid base64"),
        (lambda e: e.__setitem__("payloadType", 7), "payloadType must be a string"),
        (lambda e: e["signatures"].__setitem__(0, "x"), r"signatures\[0\] is not an object"),
        (lambda e: e["signatures"][0].__setitem__("sig", None), r"signatures\[0\].sig"),
    ],
)
def test_malformed_envelopes_are_named(
    golden_key: ec.EllipticCurvePrivateKey, mutate, message
) -> None:  # type: ignore[no-untyped-def]
    envelope = copy.deepcopy(_signed(golden_key))
    mutate(envelope)
    with pytest.raises(SignatureError, match=message):
        verify_envelope(envelope, {GOLDEN_KEY_ID: golden_key.public_key()})


def test_not_an_object_is_malformed() -> None:
    with pytest.raises(SignatureError, match="malformed envelope"):
        verify_envelope(["x"], {})  # type: ignore[arg-type]


def test_garbage_signature_bytes_are_a_bad_signature(
    golden_key: ec.EllipticCurvePrivateKey,
) -> None:
    envelope = _signed(golden_key)
    envelope["signatures"][0]["sig"] = base64.b64encode(b"\x00" * 10).decode()  # type: ignore[index]
    with pytest.raises(SignatureError, match="bad signature"):
        verify_envelope(envelope, {GOLDEN_KEY_ID: golden_key.public_key()})


def test_other_curves_are_rejected_clearly() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(SignatureError, match="P-256"):
        key_id(p384.public_key())
    with pytest.raises(SignatureError, match="P-256"):
        sign_envelope(b"x", "t", p384)
    ed = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(SignatureError, match="P-256"):
        key_id(ed.public_key())  # type: ignore[arg-type]
    with pytest.raises(SignatureError, match="P-256"):
        sign_envelope(b"x", "t", ed)  # type: ignore[arg-type]


def test_trusted_key_on_other_curve_is_rejected(golden_key: ec.EllipticCurvePrivateKey) -> None:
    envelope = _signed(golden_key)
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(SignatureError, match="P-256"):
        verify_envelope(envelope, {GOLDEN_KEY_ID: p384.public_key()})
