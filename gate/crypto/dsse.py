"""DSSE v1 envelopes signed with ECDSA P-256: the one signature format the gate produces.

DSSE (https://github.com/secure-systems-lab/dsse, protocol v1) signs the pre-authentication
encoding (PAE) of (payload type, payload) rather than the payload alone, so a signature made for
one payload type can never be replayed as another. The envelope is JSON with standard base64
(with padding), as the DSSE spec and Sigstore bundles use; the signature is DER-encoded
ECDSA-SHA256, the form `cryptography`, sigstore and `model_signing` all produce and accept.

Key ids: `key_id(public_key)` is the lowercase hex sha256 of the key's DER SubjectPublicKeyInfo.
It is derived from the public key alone, so anyone holding the PEM (or the JWK, which encodes the
same point) can recompute it, and it changes whenever the key does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.errors import SignatureError

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""Payload type of an in-toto Statement (receipts, snapshot bundles, declarations)."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: the exact bytes a signature covers.

    `"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload`, lengths as ASCII decimal byte
    counts (the type is counted in UTF-8 bytes, not characters).
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def require_p256(public_key: object, what: str = "key") -> ec.EllipticCurvePublicKey:
    """Return `public_key` if it is an ECDSA P-256 public key; otherwise raise SignatureError.

    The gate signs and verifies with P-256 only: it is what DSSE/sigstore tooling and
    `model_signing` accept, and accepting other curves would let a weaker key slip in unnoticed.
    """
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise SignatureError(
            f"{what}: expected an ECDSA P-256 key, got {type(public_key).__name__}"
        )
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise SignatureError(
            f"{what}: expected curve P-256 (secp256r1), got {public_key.curve.name}"
        )
    return public_key


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """Key id: lowercase hex sha256 of the DER SubjectPublicKeyInfo of a P-256 public key."""
    require_p256(public_key)
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: object, field: str) -> bytes:
    if not isinstance(text, str):
        raise SignatureError(f"malformed envelope: {field} must be a base64 string")
    try:
        # validate=True refuses characters outside the alphabet instead of silently dropping them.
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise SignatureError(f"malformed envelope: {field} is not valid base64") from exc


def sign_envelope(
    payload: bytes,
    payload_type: str,
    private_key: ec.EllipticCurvePrivateKey,
    keyid: str | None = None,
    *,
    deterministic: bool = False,
) -> dict[str, Any]:
    """Sign `payload` as a DSSE envelope with one ECDSA-SHA256 signature over its PAE.

    `keyid` defaults to `key_id(private_key.public_key())`. With `deterministic`, the nonce is
    derived from key and message (RFC 6979), so the same payload always gives the same envelope
    bytes: needed where a document must be byte-identical across requests (snapshot bundles
    listed with a size in the tree). Needs OpenSSL 3.2 or later (cryptography's wheels have it).
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise SignatureError(
            f"signing key: expected an ECDSA P-256 private key, got {type(private_key).__name__}"
        )
    public_key = require_p256(private_key.public_key(), "signing key")
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=deterministic)
    try:
        signature = private_key.sign(pae(payload_type, payload), algorithm)
    except UnsupportedAlgorithm as exc:
        raise SignatureError(
            "deterministic ECDSA (RFC 6979) needs OpenSSL 3.2 or later in cryptography"
        ) from exc
    return {
        "payload": _b64encode(payload),
        "payloadType": payload_type,
        "signatures": [
            {
                "keyid": keyid if keyid is not None else key_id(public_key),
                "sig": _b64encode(signature),
            }
        ],
    }


def verify_envelope(
    envelope: Mapping[str, Any],
    public_keys: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    payload_type: str | None = None,
) -> bytes:
    """Return the payload of `envelope` when any signature verifies with a trusted key.

    See `verify_envelope_key`, which also says which key verified it.
    """
    return verify_envelope_key(envelope, public_keys, payload_type=payload_type)[0]


def verify_envelope_key(
    envelope: Mapping[str, Any],
    public_keys: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    payload_type: str | None = None,
) -> tuple[bytes, str]:
    """Return (payload, id of the key that verified it) when any signature verifies.

    `public_keys` maps key id to key; a signature counts only if its `keyid` names one of them
    (a signature with no or an unknown key id is never tried against every key: that would let
    a retired or unrelated key vouch under another's name). With `payload_type`, the envelope
    must carry exactly that type. Raises SignatureError naming the problem.
    """
    if not isinstance(envelope, Mapping):
        raise SignatureError("malformed envelope: expected a JSON object")
    for field in ("payload", "payloadType", "signatures"):
        if field not in envelope:
            raise SignatureError(f"malformed envelope: missing {field!r}")
    got_type = envelope["payloadType"]
    if not isinstance(got_type, str):
        raise SignatureError("malformed envelope: payloadType must be a string")
    if payload_type is not None and got_type != payload_type:
        raise SignatureError(f"wrong payload type: expected {payload_type!r}, got {got_type!r}")
    payload = _b64decode(envelope["payload"], "payload")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or not signatures:
        raise SignatureError("malformed envelope: signatures must be a non-empty list")

    message = pae(got_type, payload)
    seen_ids: list[str] = []
    known_but_bad: list[str] = []
    for index, entry in enumerate(signatures):
        if not isinstance(entry, Mapping):
            raise SignatureError(f"malformed envelope: signatures[{index}] is not an object")
        kid = entry.get("keyid")
        sig = _b64decode(entry.get("sig"), f"signatures[{index}].sig")
        if not isinstance(kid, str) or not kid:
            seen_ids.append("<none>")
            continue
        seen_ids.append(kid)
        key = public_keys.get(kid)
        if key is None:
            continue
        require_p256(key, f"trusted key {kid}")
        try:
            key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            known_but_bad.append(kid)
            continue
        return payload, kid
    if known_but_bad:
        raise SignatureError(f"bad signature: does not verify with key {', '.join(known_but_bad)}")
    raise SignatureError(f"unknown key id: {', '.join(seen_ids)} is not a trusted key")
