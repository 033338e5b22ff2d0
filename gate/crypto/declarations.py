"""Trust in compute declarations: which signed declarations the gate believes, and by whom.

A declaration (built and read by `gate.compute.declaration`) is a JSON object signed by its
declarer in a DSSE envelope. This module only answers "is this envelope signed by a key the
operator trusts, and which one?"; what the declaration says is the compute package's business.
Receipts then name the declaration they relied on (`declaration_used`).

Trusted declarer keys are PEM public key files the operator configures, loaded with
`gate.crypto.keys.load_public_keys`; their ids are derived from the keys, never taken from the
envelope, so a declarer cannot choose which trusted name it signs under.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from gate.core.canonical import canonical_json
from gate.crypto.dsse import sign_envelope, verify_envelope_key
from gate.errors import SignatureError

DECLARATION_PAYLOAD_TYPE = "application/vnd.weight-gate.compute-declaration+json"
"""DSSE payload type of a compute declaration (a distinct type: a receipt or any other signed
document can never be replayed as a declaration, since PAE binds the type)."""


def sign_declaration(
    declaration: Mapping[str, Any],
    private_key: ec.EllipticCurvePrivateKey,
    *,
    payload_type: str = DECLARATION_PAYLOAD_TYPE,
) -> dict[str, Any]:
    """DSSE envelope over the canonical JSON of `declaration`, signed by the declarer's key."""
    return sign_envelope(canonical_json(declaration), payload_type, private_key)


def verify_declaration(
    envelope: Mapping[str, Any],
    trusted_declarer_keys: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    payload_type: str = DECLARATION_PAYLOAD_TYPE,
) -> tuple[dict[str, Any], str]:
    """(declaration, declarer key id) when a trusted declarer signed `envelope`.

    Raises SignatureError when no trusted key is configured, the signature does not verify,
    the key is not trusted, the payload type is not a declaration's, or the payload is not a
    JSON object.
    """
    if not trusted_declarer_keys:
        raise SignatureError("no trusted declarer keys are configured")
    payload, kid = verify_envelope_key(envelope, trusted_declarer_keys, payload_type=payload_type)
    try:
        declaration = json.loads(payload)
    except ValueError as exc:
        raise SignatureError("declaration payload is not JSON") from exc
    if not isinstance(declaration, dict):
        raise SignatureError("declaration payload is not a JSON object")
    return declaration, kid
