"""Compute declarations: a researcher's signed statement of a model's training operations.

The document is a JSON object (`Declaration`, with `format` = `FORMAT`) in a DSSE envelope of
payload type `application/vnd.weight-gate.compute-declaration+json`, signed with the declarer's
ECDSA P-256 key. Signing and trust are `gate.crypto.declarations`' job (the payload type binds
the signature to declarations; trusted key ids are derived from the keys); this module owns what
a declaration says and checks it.

Accounting: `breakdown` holds this model's own training stages; `base_model.operations`, when
given, the base's. `total_operations` is everything the rule counts: the breakdown's sum plus the
base's operations when stated (checked to within 1%). A base named without operations is added by
the estimator from the base's own facts (lineage).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gate.compute.estimate import Estimate
from gate.core.canonical import canonical_sha256
from gate.crypto import declarations as crypto_declarations
from gate.errors import InputError, SignatureError

FORMAT: Literal["weight-gate-compute-declaration/v1"] = "weight-gate-compute-declaration/v1"
TOTAL_TOLERANCE = 0.01

Ops = Field(ge=0, allow_inf_nan=False)
OptOps = Field(default=None, ge=0, allow_inf_nan=False)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRef(_Strict):
    repo: str = Field(min_length=1)
    commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    weight_digests: dict[str, str] | None = None

    @model_validator(mode="after")
    def _identified(self) -> ModelRef:
        if not self.commit and not self.weight_digests:
            raise ValueError("give the model's commit or its weight file digests")
        for path, digest in (self.weight_digests or {}).items():
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(f"weight_digests[{path!r}] is not a hex sha256")
        return self


class Breakdown(_Strict):
    pre_training: float | None = OptOps
    continued_training: float | None = OptOps
    fine_tuning: float | None = OptOps
    rl_post_training: float | None = OptOps
    synthetic_data_generation: float | None = OptOps

    def total(self) -> float:
        parts = (
            self.pre_training,
            self.continued_training,
            self.fine_tuning,
            self.rl_post_training,
            self.synthetic_data_generation,
        )
        return float(sum(v for v in parts if v is not None))


class Parameters(_Strict):
    total: float = Ops
    active: float | None = OptOps


class Hardware(_Strict):
    chip: str
    count: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    days: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    chip_hours: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    precision: str | None = None


class BaseModelRef(_Strict):
    repo: str = Field(min_length=1)
    commit: str | None = None
    operations: float | None = OptOps


class Declarer(_Strict):
    name: str = Field(min_length=1)
    organization: str | None = None
    contact: str | None = None


class Declaration(_Strict):
    """A compute declaration: the fields a researcher fills in."""

    format: Literal["weight-gate-compute-declaration/v1"] = FORMAT
    model: ModelRef
    total_operations: float = Ops
    breakdown: Breakdown = Field(default_factory=Breakdown)
    tokens: float | None = OptOps
    parameters: Parameters | None = None
    hardware: Hardware | None = None
    base_model: BaseModelRef | None = None
    declarer: Declarer
    date: date

    @model_validator(mode="after")
    def _adds_up(self) -> Declaration:
        parts = self.breakdown.total()
        if parts == 0:
            return self
        base = self.base_model.operations if self.base_model and self.base_model.operations else 0
        expected = parts + base
        if abs(expected - self.total_operations) > TOTAL_TOLERANCE * max(self.total_operations, 1):
            raise ValueError(
                f"total_operations {self.total_operations:.4g} does not equal the breakdown "
                f"({parts:.4g}) plus the base model's operations ({base:.4g})"
            )
        return self


@dataclass(frozen=True, slots=True)
class VerifiedDeclaration:
    declaration: Declaration
    verified: bool
    key_ids: tuple[str, ...] = ()
    id: str | None = None
    """sha256 of the signed payload: names this declaration in records and decisions."""


def parse_declaration(data: object, source: str = "declaration") -> Declaration:
    """Validate a predicate; errors name the source and the field."""
    try:
        return Declaration.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "declaration"
        raise InputError(f"{source}: {where}", first["msg"]) from exc


def document(declaration: Declaration) -> dict[str, Any]:
    """The JSON object that gets signed (canonical JSON of this)."""
    return declaration.model_dump(mode="json", exclude_none=True)


def sign_declaration(
    declaration: Declaration, private_key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    """A DSSE envelope (ECDSA P-256) over the canonical JSON of the declaration."""
    return crypto_declarations.sign_declaration(document(declaration), private_key)


def verify_declaration(
    envelope: Mapping[str, Any],
    public_keys: Mapping[str, ec.EllipticCurvePublicKey],
    source: str = "declaration",
) -> VerifiedDeclaration:
    """Check the signature against trusted keys, then the content; raises SignatureError."""
    try:
        data, kid = crypto_declarations.verify_declaration(envelope, public_keys)
    except SignatureError as exc:
        raise SignatureError(f"{source}: {exc}") from exc
    return VerifiedDeclaration(
        parse_declaration(data, source), True, (kid,), canonical_sha256(data)
    )


def read_unverified(
    envelope: Mapping[str, Any], source: str = "declaration"
) -> VerifiedDeclaration:
    """The declaration inside an envelope, without checking who signed it (an unsigned claim)."""
    if envelope.get("payloadType") != crypto_declarations.DECLARATION_PAYLOAD_TYPE:
        raise SignatureError(f"{source}: not a compute declaration envelope (payloadType)")
    raw = envelope.get("payload")
    if not isinstance(raw, str):
        raise SignatureError(f"{source}: malformed envelope: missing payload")
    try:
        payload = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{source}: malformed envelope: payload is not base64") from exc
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # the parser recurses: deep nesting
        raise SignatureError(f"{source}: payload is not JSON") from exc
    return VerifiedDeclaration(parse_declaration(data, source), False, (), canonical_sha256(data))


def load_envelope(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise InputError("declaration", f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, RecursionError) as exc:
        raise InputError("declaration", f"{path} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InputError("declaration", f"{path}: expected a DSSE envelope (JSON object)")
    return document


def declaration_estimate(found: VerifiedDeclaration) -> Estimate:
    """A verified declaration is authoritative (`declaration`); an unverified one is `reported`."""
    decl = found.declaration
    includes_base = bool(decl.base_model and decl.base_model.operations is not None)
    if not includes_base and decl.base_model is None:
        includes_base = True  # nothing to add
    who = decl.declarer.name + (
        f" ({decl.declarer.organization})" if decl.declarer.organization else ""
    )
    trust: Literal["signed by a trusted key", "signature not checked"] = (
        "signed by a trusted key" if found.verified else "signature not checked"
    )
    value = decl.total_operations
    return Estimate(
        "declaration" if found.verified else "reported",
        value,
        value,
        value,
        f"declared by {who} on {decl.date.isoformat()}, {trust}",
        {
            "declared_operations": value,
            "includes_base": includes_base,
            "base_repo": decl.base_model.repo if decl.base_model else None,
            "key_ids": list(found.key_ids),
            "tokens": decl.tokens,
            "parameters": decl.parameters.model_dump() if decl.parameters else None,
        },
        unsigned=not found.verified,
    )
