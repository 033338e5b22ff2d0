"""Compute declarations: build, sign, verify; tampering, wrong keys and bad numbers are refused."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.compute.assemble import TrainingInputs, assess
from gate.compute.declaration import (
    parse_declaration,
    read_unverified,
    sign_declaration,
    verify_declaration,
)
from gate.compute.params import ParameterCount
from gate.crypto.dsse import key_id
from gate.errors import InputError, SignatureError
from gate.rules.loader import load_default_ruleset

COMMIT = "a" * 40


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "model": {"repo": "lab/model", "commit": COMMIT},
        "total_operations": 3.1e23,
        "breakdown": {"pre_training": 3.0e23, "fine_tuning": 1e21},
        "tokens": 300e9,
        "parameters": {"total": 175e9},
        "declarer": {"name": "Ada", "organization": "Lab"},
        "date": "2026-11-01",
    }
    doc["breakdown"]["rl_post_training"] = 9e21
    doc.update(changes)
    return doc


def _keys(key: ec.EllipticCurvePrivateKey) -> dict[str, ec.EllipticCurvePublicKey]:
    return {key_id(key.public_key()): key.public_key()}


def test_sign_and_verify_round_trip(declarer_key: tuple[Any, Path, Path]) -> None:
    key = declarer_key[0]
    envelope = sign_declaration(parse_declaration(_doc()), key)
    found = verify_declaration(envelope, _keys(key))
    assert found.verified and found.key_ids == (key_id(key.public_key()),)
    assert found.declaration.total_operations == 3.1e23
    assert found.id is not None and len(found.id) == 64


def test_tampered_payload_and_untrusted_key(declarer_key: tuple[Any, Path, Path]) -> None:
    key = declarer_key[0]
    envelope = sign_declaration(parse_declaration(_doc()), key)
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["total_operations"] = 1e20
    tampered = {**envelope, "payload": base64.b64encode(json.dumps(payload).encode()).decode()}
    with pytest.raises(SignatureError, match=r"decl\.json: bad signature"):
        verify_declaration(tampered, _keys(key), "decl.json")
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SignatureError, match="not a trusted key"):
        verify_declaration(envelope, _keys(other))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total_operations": -1.0}, "total_operations"),
        ({"tokens": -5}, "tokens"),
        ({"total_operations": 5e23}, "does not equal the breakdown"),
        ({"model": {"repo": "lab/model"}}, "commit or its weight file digests"),
        ({"model": {"repo": "x", "weight_digests": {"a.safetensors": "zz"}}}, "hex sha256"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_declarations(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_declaration(_doc(**changes), "decl.json")
    assert "decl.json" in str(err.value) and field in str(err.value)


def test_signed_bad_content_is_refused(declarer_key: tuple[Any, Path, Path]) -> None:
    from gate.crypto.declarations import sign_declaration as raw_sign

    key = declarer_key[0]
    envelope = raw_sign(_doc(total_operations=-3.0, breakdown={}), key)
    with pytest.raises(InputError, match="total_operations"):
        verify_declaration(envelope, _keys(key))


def test_estimator_trusts_signed_declaration_and_checks_plausibility(
    declarer_key: tuple[Any, Path, Path],
) -> None:
    key = declarer_key[0]
    rules = load_default_ruleset()
    params = ParameterCount(total=175_000_000_000, active=175_000_000_000, source="header")
    good = verify_declaration(sign_declaration(parse_declaration(_doc()), key), _keys(key))
    result = assess(rules, params=params, inputs=TrainingInputs(declaration=good))
    assert result.combined.interval.method == "declaration"
    assert result.combined.interval.low == result.combined.interval.high == 3.1e23
    assert not result.warnings
    # 6 x 175e9 x 300e9 = 3.15e23; declaring 3e22 is below 0.25 x that: flagged, not trusted.
    low_doc = _doc(total_operations=3e22, breakdown={"pre_training": 3e22})
    low = verify_declaration(sign_declaration(parse_declaration(low_doc), key), _keys(key))
    flagged = assess(rules, params=params, inputs=TrainingInputs(declaration=low))
    assert any("implausibly low" in w for w in flagged.warnings)
    assert flagged.combined.interval.high == pytest.approx(1.5 * 3.15e23)


def test_unverified_declaration_is_only_reported(declarer_key: tuple[Any, Path, Path]) -> None:
    envelope = sign_declaration(parse_declaration(_doc()), declarer_key[0])
    found = read_unverified(envelope, "d.json")
    assert not found.verified
    result = assess(load_default_ruleset(), inputs=TrainingInputs(declaration=found))
    # An unsigned figure ranks below counting (from the declared parameters and tokens); the
    # tokens are unsigned too, so the upper bound, not the counting estimate, sets the high end.
    assert result.combined.interval.method == "counting, capped by upper_bound"
    assert [e.method for e in result.combined.estimates][:2] == ["counting", "reported"]
