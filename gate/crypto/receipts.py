"""Signed receipts: the gate's statement that one file of one commit was allowed to one recipient.

A receipt is an in-toto Statement v1 in a DSSE envelope (payload type
`application/vnd.in-toto+json`), so generic in-toto/DSSE tooling can read it. The subject is the
file (its path in the repository and its sha256); the predicate, under `RECEIPT_PREDICATE_TYPE`,
carries everything the decision bound itself to. The payload bytes are
`gate.core.canonical.canonical_json(statement)`, pinned by golden vectors in the tests.

The proxy sends the envelope on HEAD and GET of allowed parameter files as `X-Gate-Receipt`:
base64url without padding of the canonical JSON of the envelope (`encode_receipt_header`); the
client plugin checks it with `verify_receipt` against the file it is about to receive.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from gate.core.canonical import canonical_json
from gate.core.values import Decision
from gate.crypto.dsse import IN_TOTO_PAYLOAD_TYPE, verify_envelope
from gate.crypto.keys import Signer
from gate.errors import InputError, SignatureError
from gate.names import is_commit, is_sha256

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
RECEIPT_PREDICATE_TYPE = "https://weight-gate.dev/receipt/v1"
RECEIPT_HEADER = "X-Gate-Receipt"

# Recipient clocks drift; a receipt "issued" a little in the future is still accepted.
CLOCK_SKEW_SECONDS = 300


def format_time(moment: datetime) -> str:
    """UTC, second precision, `Z` suffix: one spelling of a time in every signed payload."""
    if moment.tzinfo is None:
        raise InputError("time", f"expected a timezone-aware time, got naive {moment.isoformat()}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: object, field: str) -> datetime:
    if not isinstance(text, str):
        raise SignatureError(f"malformed receipt: {field} must be a string")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(f"malformed receipt: {field} {text!r} is not a UTC time") from exc


@dataclass(frozen=True, slots=True)
class ReceiptClaims:
    """What a receipt says. Built by the proxy from a decision; returned by `verify_receipt`."""

    repo_id: str
    commit: str
    path: str
    sha256: str
    size: int
    recipient_id: str
    recipient_name: str
    destination: str | None
    verdict: str
    basis: str
    license_used: str | None
    declaration_id: str | None
    ruleset_id: str
    ruleset_sha256: str
    decision_id: str
    issued_at: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        if not is_commit(self.commit):
            raise InputError("commit", f"expected 40 lowercase hex digits, got {self.commit!r}")
        if not is_sha256(self.sha256):
            raise InputError("sha256", f"expected 64 lowercase hex digits, got {self.sha256!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise InputError("size", f"expected a non-negative integer, got {self.size!r}")
        # A receipt vouches for a transfer the gate let through; anything else is not a receipt.
        if self.verdict != "allow":
            raise InputError("verdict", f"receipts are only issued for allow, got {self.verdict!r}")
        for name in ("repo_id", "path", "recipient_id", "decision_id", "ruleset_id"):
            if not getattr(self, name):
                raise InputError(name, "must not be empty")
        if format_time(self.expires_at) <= format_time(self.issued_at):
            raise InputError("expires_at", "must be after issued_at")

    @classmethod
    def from_decision(
        cls,
        decision: Decision,
        *,
        decision_id: str,
        repo_id: str,
        commit: str,
        path: str,
        sha256: str,
        size: int,
        recipient_id: str,
        recipient_name: str,
        destination: str | None,
        declaration_id: str | None,
        issued_at: datetime,
        ttl: timedelta,
    ) -> ReceiptClaims:
        """Claims for an allowed file: verdict, basis, license and ruleset come from `decision`."""
        return cls(
            repo_id=repo_id,
            commit=commit,
            path=path,
            sha256=sha256,
            size=size,
            recipient_id=recipient_id,
            recipient_name=recipient_name,
            destination=destination,
            verdict=decision.verdict.value,
            basis=decision.basis.value,
            license_used=decision.license_used,
            declaration_id=declaration_id,
            ruleset_id=decision.ruleset_id,
            ruleset_sha256=decision.ruleset_sha256,
            decision_id=decision_id,
            issued_at=issued_at,
            expires_at=issued_at + ttl,
        )


def build_receipt_statement(claims: ReceiptClaims) -> dict[str, Any]:
    """The in-toto Statement v1 for `claims` (what gets canonically encoded and signed)."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": claims.path, "digest": {"sha256": claims.sha256}}],
        "predicateType": RECEIPT_PREDICATE_TYPE,
        "predicate": {
            "repo": claims.repo_id,
            "commit": claims.commit,
            "size": claims.size,
            "recipient": {"id": claims.recipient_id, "name": claims.recipient_name},
            "destination": claims.destination,
            "verdict": claims.verdict,
            "basis": claims.basis,
            "license_used": claims.license_used,
            "declaration_used": claims.declaration_id,
            "ruleset": {"id": claims.ruleset_id, "sha256": claims.ruleset_sha256},
            "decision_id": claims.decision_id,
            "issued_at": format_time(claims.issued_at),
            "expires_at": format_time(claims.expires_at),
        },
    }


def sign_receipt(statement: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """DSSE envelope over the canonical JSON of `statement`, signed by `signer`."""
    return signer.sign_envelope(canonical_json(statement), IN_TOTO_PAYLOAD_TYPE)


def encode_receipt_header(envelope: Mapping[str, Any]) -> str:
    """`X-Gate-Receipt` value: base64url, no padding, of the envelope's canonical JSON."""
    return base64.urlsafe_b64encode(canonical_json(envelope)).rstrip(b"=").decode("ascii")


def decode_receipt_header(value: str) -> dict[str, Any]:
    """The envelope in an `X-Gate-Receipt` value; SignatureError when it is not one."""
    text = value.strip()
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", text):
        raise SignatureError(f"malformed {RECEIPT_HEADER}: not base64url")
    try:
        raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
        envelope = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"malformed {RECEIPT_HEADER}: not a JSON envelope") from exc
    if not isinstance(envelope, dict):
        raise SignatureError(f"malformed {RECEIPT_HEADER}: not a JSON object")
    return envelope


def _field(mapping: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = mapping.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise SignatureError(f"malformed receipt: {name} missing or of the wrong type")
    return value


def claims_from_statement(statement: Mapping[str, Any]) -> ReceiptClaims:
    """Read the claims of a (verified) receipt statement; SignatureError when malformed."""
    if statement.get("_type") != STATEMENT_TYPE:
        raise SignatureError("malformed receipt: not an in-toto Statement v1")
    if statement.get("predicateType") != RECEIPT_PREDICATE_TYPE:
        raise SignatureError(
            f"not a receipt: predicate type {statement.get('predicateType')!r}, "
            f"expected {RECEIPT_PREDICATE_TYPE}"
        )
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise SignatureError("malformed receipt: expected exactly one subject")
    digest = _field(subjects[0], "digest", dict)
    pred = _field(statement, "predicate", dict)
    recipient = _field(pred, "recipient", dict)
    ruleset = _field(pred, "ruleset", dict)
    optional = (str, type(None))
    try:
        return ReceiptClaims(
            repo_id=_field(pred, "repo", str),
            commit=_field(pred, "commit", str),
            path=_field(subjects[0], "name", str),
            sha256=_field(digest, "sha256", str),
            size=_field(pred, "size", int),
            recipient_id=_field(recipient, "id", str),
            recipient_name=_field(recipient, "name", str),
            destination=_field(pred, "destination", optional),
            verdict=_field(pred, "verdict", str),
            basis=_field(pred, "basis", str),
            license_used=_field(pred, "license_used", optional),
            declaration_id=_field(pred, "declaration_used", optional),
            ruleset_id=_field(ruleset, "id", str),
            ruleset_sha256=_field(ruleset, "sha256", str),
            decision_id=_field(pred, "decision_id", str),
            issued_at=_parse_time(pred.get("issued_at"), "issued_at"),
            expires_at=_parse_time(pred.get("expires_at"), "expires_at"),
        )
    except InputError as exc:
        raise SignatureError(f"malformed receipt: {exc}") from exc


def verify_receipt(
    envelope: Mapping[str, Any],
    trusted_keys: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    repo_id: str,
    commit: str,
    path: str,
    sha256: str,
    size: int,
    recipient_id: str,
    now: datetime,
) -> ReceiptClaims:
    """Check that `envelope` is a valid receipt for exactly this file, commit and recipient.

    The signature is checked first (nothing unsigned is read as a claim), then each binding.
    Raises SignatureError naming the first thing that does not match.
    """
    payload = verify_envelope(envelope, trusted_keys, payload_type=IN_TOTO_PAYLOAD_TYPE)
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise SignatureError("malformed receipt: payload is not JSON") from exc
    if not isinstance(statement, dict):
        raise SignatureError("malformed receipt: payload is not a JSON object")
    claims = claims_from_statement(statement)
    checks = (
        (claims.repo_id == repo_id, "receipt is for another repository", claims.repo_id, repo_id),
        (claims.commit == commit, "receipt is for another commit", claims.commit, commit),
        (claims.path == path, "receipt is for another file", claims.path, path),
        (claims.sha256 == sha256.lower(), "digest mismatch", claims.sha256, sha256),
        (claims.size == size, "size mismatch", claims.size, size),
        (
            claims.recipient_id == recipient_id,
            "receipt is for another recipient",
            claims.recipient_id,
            recipient_id,
        ),
    )
    for ok, problem, signed, expected in checks:
        if not ok:
            raise SignatureError(f"{problem}: receipt says {signed!r}, expected {expected!r}")
    if now.tzinfo is None:
        raise InputError("now", "expected a timezone-aware time")
    if now >= claims.expires_at:
        raise SignatureError(f"receipt expired at {format_time(claims.expires_at)}")
    if (claims.issued_at - now).total_seconds() > CLOCK_SKEW_SECONDS:
        raise SignatureError(f"receipt issued in the future ({format_time(claims.issued_at)})")
    return claims


def claims_to_dict(claims: ReceiptClaims) -> dict[str, Any]:
    """Plain-JSON view of claims (times in the signed spelling), for APIs and the CLI."""
    out = asdict(claims)
    for f in fields(claims):
        if isinstance(out[f.name], datetime):
            out[f.name] = format_time(out[f.name])
    return out
