"""Reading and checking the gate's receipts, with `cryptography` alone (no `gate` import).

A receipt is an in-toto Statement v1 in a DSSE v1 envelope signed with ECDSA P-256 (DER
signature over the DSSE pre-authentication encoding). The gate sends it as `X-Gate-Receipt`:
base64url, no padding, of the envelope's JSON. This module is the recipient's side of the format
the gate writes in `gate/crypto/receipts.py` and `gate/crypto/dsse.py`; the tests check both sides
against each other with real signatures, so the two cannot drift apart unnoticed.

Key ids are the lowercase hex sha256 of the key's DER SubjectPublicKeyInfo. A signature counts
only under the key id it names: a signature is never tried against every trusted key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from weight_gate_hf.errors import GateVerificationError

RECEIPT_HEADER = "X-Gate-Receipt"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
RECEIPT_PREDICATE_TYPE = "https://weight-gate.dev/receipt/v1"
CLOCK_SKEW_SECONDS = 300
"""A receipt issued up to this far in the recipient's future is accepted (clock drift)."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

PublicKeys = Mapping[str, ec.EllipticCurvePublicKey]


def format_time(moment: datetime) -> str:
    """UTC, second precision, `Z` suffix: the spelling of times in receipts."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def require_p256(public_key: object, what: str) -> ec.EllipticCurvePublicKey:
    """`public_key` if it is ECDSA P-256; the gate signs with nothing else."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise GateVerificationError(f"{what}: expected an ECDSA P-256 public key")
    return public_key


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """Lowercase hex sha256 of the key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def load_pem_keys(paths: Iterable[str | os.PathLike[str]]) -> dict[str, ec.EllipticCurvePublicKey]:
    """Trusted keys from PEM public key files, keyed by their derived key id."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for path in paths:
        source = os.fspath(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise GateVerificationError(f"cannot read {source}: {exc.strerror}") from exc
        try:
            loaded = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise GateVerificationError(f"{source}: not a PEM public key") from exc
        public_key = require_p256(loaded, source)
        keys[key_id(public_key)] = public_key
    return keys


def _b64url_int(text: object, field: str) -> int:
    if not isinstance(text, str):
        raise GateVerificationError(f"JWK {field}: expected a base64url string")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise GateVerificationError(f"JWK {field}: not base64url") from exc
    if len(raw) != 32:
        raise GateVerificationError(f"JWK {field}: expected 32 bytes for P-256")
    return int.from_bytes(raw, "big")


def keys_from_jwks(document: object) -> dict[str, ec.EllipticCurvePublicKey]:
    """Keys of a JWK set (`/.well-known/gate-keys.json`); each `kid` must be its key's id."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise GateVerificationError("JWK set: expected an object with a 'keys' list")
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for index, entry in enumerate(entries):
        if (
            not isinstance(entry, Mapping)
            or entry.get("kty") != "EC"
            or entry.get("crv") != "P-256"
        ):
            raise GateVerificationError(f"JWK set: keys[{index}] is not an EC P-256 key")
        x = _b64url_int(entry.get("x"), f"keys[{index}].x")
        y = _b64url_int(entry.get("y"), f"keys[{index}].y")
        try:
            public_key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        except ValueError as exc:
            raise GateVerificationError(f"JWK set: keys[{index}] is not a P-256 point") from exc
        kid = key_id(public_key)
        if entry.get("kid") != kid:
            raise GateVerificationError(f"JWK set: keys[{index}] is labelled with another key id")
        keys[kid] = public_key
    return keys


def _pae(payload_type: str, payload: bytes) -> bytes:
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def _b64decode(text: object, field: str) -> bytes:
    if not isinstance(text, str):
        raise GateVerificationError(f"malformed receipt: {field} must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise GateVerificationError(f"malformed receipt: {field} is not base64") from exc


def verify_envelope(envelope: Mapping[str, Any], keys: PublicKeys) -> bytes:
    """The payload of an in-toto DSSE envelope whose signature verifies with a trusted key."""
    if not isinstance(envelope, Mapping):
        raise GateVerificationError("malformed receipt: expected a JSON object")
    if envelope.get("payloadType") != IN_TOTO_PAYLOAD_TYPE:
        raise GateVerificationError("malformed receipt: not an in-toto DSSE envelope")
    payload = _b64decode(envelope.get("payload"), "payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise GateVerificationError("malformed receipt: no signatures")
    message = _pae(IN_TOTO_PAYLOAD_TYPE, payload)
    seen: list[str] = []
    bad: list[str] = []
    for index, entry in enumerate(signatures):
        if not isinstance(entry, Mapping):
            raise GateVerificationError(f"malformed receipt: signatures[{index}] not an object")
        kid = entry.get("keyid")
        sig = _b64decode(entry.get("sig"), f"signatures[{index}].sig")
        seen.append(kid if isinstance(kid, str) and kid else "<none>")
        key = keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            continue
        try:
            key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            bad.append(str(kid))
            continue
        return payload
    if bad:
        raise GateVerificationError(f"bad signature: does not verify with key {', '.join(bad)}")
    raise GateVerificationError(f"unknown key id: {', '.join(seen)} is not a trusted key")


def decode_receipt_header(value: str) -> dict[str, Any]:
    """The envelope carried by an `X-Gate-Receipt` value."""
    text = value.strip().rstrip("=")
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise GateVerificationError(f"malformed {RECEIPT_HEADER}: not base64url")
    try:
        envelope = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise GateVerificationError(f"malformed {RECEIPT_HEADER}: not a JSON envelope") from exc
    if not isinstance(envelope, dict):
        raise GateVerificationError(f"malformed {RECEIPT_HEADER}: not a JSON object")
    return envelope


@dataclass(frozen=True, slots=True)
class ReceiptClaims:
    """What a receipt says about one file (the fields the plugin checks or reports)."""

    repo_id: str
    commit: str
    path: str
    sha256: str
    size: int
    recipient_id: str
    decision_id: str
    issued_at: datetime
    expires_at: datetime


def _get(mapping: object, name: str, kind: type) -> Any:
    value = mapping.get(name) if isinstance(mapping, Mapping) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GateVerificationError(f"malformed receipt: {name} missing or of the wrong type")
    return value


def _time(mapping: object, name: str) -> datetime:
    text = _get(mapping, name, str)
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise GateVerificationError(f"malformed receipt: {name} is not a UTC time") from exc


def claims_from_statement(statement: object) -> ReceiptClaims:
    """The claims of a receipt statement; GateVerificationError when it is not a receipt."""
    if _get(statement, "_type", str) != STATEMENT_TYPE:
        raise GateVerificationError("malformed receipt: not an in-toto Statement v1")
    if _get(statement, "predicateType", str) != RECEIPT_PREDICATE_TYPE:
        raise GateVerificationError("not a receipt: wrong predicate type")
    subjects = _get(statement, "subject", list)
    if len(subjects) != 1:
        raise GateVerificationError("malformed receipt: expected exactly one subject")
    pred = _get(statement, "predicate", dict)
    if pred.get("verdict") != "allow":
        raise GateVerificationError("not a receipt: the verdict is not allow")
    claims = ReceiptClaims(
        repo_id=_get(pred, "repo", str),
        commit=_get(pred, "commit", str),
        path=_get(subjects[0], "name", str),
        sha256=_get(_get(subjects[0], "digest", dict), "sha256", str),
        size=_get(pred, "size", int),
        recipient_id=_get(_get(pred, "recipient", dict), "id", str),
        decision_id=_get(pred, "decision_id", str),
        issued_at=_time(pred, "issued_at"),
        expires_at=_time(pred, "expires_at"),
    )
    if not _COMMIT.match(claims.commit) or not _SHA256.match(claims.sha256) or claims.size < 0:
        raise GateVerificationError("malformed receipt: bad commit, sha256 or size")
    return claims


def unverified_claims(envelope: Mapping[str, Any]) -> ReceiptClaims:
    """What a receipt claims BEFORE its signature is checked: only to pick what to check against."""
    try:
        statement = json.loads(_b64decode(envelope.get("payload"), "payload"))
    except ValueError as exc:
        raise GateVerificationError("malformed receipt: payload is not JSON") from exc
    return claims_from_statement(statement)


def verify_receipt(
    envelope: Mapping[str, Any],
    keys: PublicKeys,
    *,
    repo_id: str,
    commit: str,
    path: str,
    sha256: str,
    size: int,
    recipient_id: str,
    now: datetime,
) -> ReceiptClaims:
    """Signature first, then every binding: the receipt vouches for exactly this file."""
    payload = verify_envelope(envelope, keys)
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise GateVerificationError("malformed receipt: payload is not JSON") from exc
    claims = claims_from_statement(statement)
    checks = (
        (claims.repo_id, repo_id, "receipt is for another repository"),
        (claims.commit, commit, "receipt is for another commit"),
        (claims.path, path, "receipt is for another file"),
        (claims.sha256, sha256.lower(), "digest mismatch"),
        (claims.size, size, "size mismatch"),
        (claims.recipient_id, recipient_id, "receipt is for another recipient"),
    )
    for signed, expected, problem in checks:
        if signed != expected:
            raise GateVerificationError(
                f"{problem}: receipt says {signed!r}, expected {expected!r}"
            )
    if now >= claims.expires_at:
        raise GateVerificationError(f"receipt expired at {format_time(claims.expires_at)}")
    if (claims.issued_at - now).total_seconds() > CLOCK_SKEW_SECONDS:
        raise GateVerificationError(
            f"receipt issued in the future ({format_time(claims.issued_at)})"
        )
    return claims
