"""Snapshot signatures anyone can check with the stock OpenSSF `model_signing verify key`.

For one recipient and one commit the gate issues a Sigstore bundle (media type
`application/vnd.dev.sigstore.bundle.v0.3+json`) holding a DSSE envelope around an in-toto
Statement v1 with predicate type `https://model_signing/signature/v1.0`, exactly the shape
`model_signing` 1.x writes with `sign key`, read from its source (`_signing/signing.py`,
`_signing/sign_ec_key.py`, `_signing/sign_sigstore_pb.py`, `manifest.py`, `hashing.py`):

- predicate `resources`: one `{"name": path, "algorithm": "sha256", "digest": hex}` per file,
  sorted as `model_signing` sorts paths; the per-file digest is the plain sha256 of the file,
  the same number the hub publishes as an LFS oid, so the gate never re-hashes a file for this;
- predicate `serialization`: `{"method": "files", "hash_type": "sha256", "allow_symlinks": true,
  "ignore_paths": [...]}`. `verify key` always hashes by whole files (its CLI sets a default
  file-serialization config rather than guessing), and it adds `ignore_paths` from the signed
  manifest to what it skips. We list the sidecar signature file there: the CLI only skips the
  `--signature` path when it resolves inside the model folder, which a Hugging Face cache
  symlink into `blobs/` does not. Git files (`.git`, `.gitattributes`, `.github`, `.gitignore`)
  are skipped by `verify key` by default, so they are left out of the resources too;
- subject: the model name and the sha256 over the concatenated raw digests, in resource order;
- `verificationMaterial.publicKey.hint`: sha256 hex of the signing key's PEM
  SubjectPublicKeyInfo (note: PEM text, unlike the gate's key id, which hashes the DER);
- one DSSE signature: `verify key` checks only `signatures[0]`, DER ECDSA over the PAE.

`model_signing` v1.0 verifiers ignore predicate fields they do not know; the gate puts its own
(recipient, repo, commit, decision ids) under `predicate["weight_gate"]`, covered by the same
signature. The signature is deterministic (RFC 6979) so a bundle for the same inputs is the same
bytes every time: the tree listing's size and the later GET agree without caching anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.core.canonical import canonical_json
from gate.crypto.dsse import IN_TOTO_PAYLOAD_TYPE, verify_envelope_key
from gate.crypto.keys import Signer
from gate.errors import InputError, SignatureError
from gate.names import is_sha256

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
MODEL_SIGNING_PREDICATE_TYPE = "https://model_signing/signature/v1.0"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
GATE_SNAPSHOT_TYPE = "https://weight-gate.dev/snapshot/v1"
SIDECAR_PATH = "weight-gate.sig"
"""Where the proxy lists the bundle in a snapshot's tree (so `snapshot_download` fetches it)."""
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
"""Paths `model_signing verify key` skips by default (`--ignore-git-paths`)."""


def public_key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    """`model_signing`'s key hint: sha256 hex of the PEM SubjectPublicKeyInfo text."""
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def _check_path(path: str) -> PurePosixPath:
    pure = PurePosixPath(path)
    # model_signing compares str(PurePosixPath(name)) with paths it finds on disk: a name that
    # is not already in that normal form (or escapes the folder) could never verify.
    if (
        not path
        or str(pure) != path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in pure.parts)
    ):
        raise InputError("files", f"not a normalized relative file path: {path!r}")
    return pure


def _ignored(pure: PurePosixPath, ignore: tuple[str, ...]) -> bool:
    return any(pure.is_relative_to(PurePosixPath(p)) for p in ignore)


def snapshot_statement(
    digests: Mapping[str, str],
    *,
    model_name: str,
    gate_predicate: Mapping[str, Any],
    sidecar_path: str = SIDECAR_PATH,
) -> dict[str, Any]:
    """The in-toto statement `model_signing` expects, over files given by known sha256 digests.

    `digests` maps paths relative to the snapshot root to lowercase hex sha256. Git files are
    dropped (the verifier skips them); the sidecar itself must not be among the files.
    """
    ignore = (sidecar_path, *GIT_PATHS)
    checked: list[tuple[PurePosixPath, str]] = []
    sidecar = _check_path(sidecar_path)
    for path, digest in digests.items():
        pure = _check_path(path)
        if pure == sidecar:
            raise InputError("files", f"{path!r} is the signature sidecar's own path")
        if not isinstance(digest, str) or not is_sha256(digest):
            raise InputError(f"files[{path}]", f"expected a lowercase hex sha256, got {digest!r}")
        if not _ignored(pure, ignore):
            checked.append((pure, digest))
    # model_signing orders resources by PurePosixPath (component-wise), not by plain string.
    checked.sort(key=lambda item: item[0])
    root = hashlib.sha256()
    resources = []
    for pure, digest in checked:
        root.update(bytes.fromhex(digest))
        resources.append({"name": str(pure), "algorithm": "sha256", "digest": digest})
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root.hexdigest()}}],
        "predicateType": MODEL_SIGNING_PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": True,
                "ignore_paths": list(ignore),
            },
            "resources": resources,
            "weight_gate": dict(gate_predicate),
        },
    }


def build_snapshot_bundle(
    digests: Mapping[str, str],
    signer: Signer,
    *,
    recipient_id: str,
    decision_ids: Mapping[str, str],
    repo_id: str,
    commit: str,
    model_name: str | None = None,
    issued_at: str | None = None,
    sidecar_path: str = SIDECAR_PATH,
) -> dict[str, Any]:
    """A Sigstore bundle over the files one recipient may receive in one snapshot.

    `decision_ids` maps each path to the decision that allowed it. `model_name` (the subject
    name, informative only) defaults to the commit, which is also the name of the snapshot
    folder in a Hugging Face cache. `issued_at`, if given, is recorded as is; leave it out to
    keep the bundle a pure function of its inputs.
    """
    if not recipient_id:
        raise InputError("recipient_id", "must not be empty")
    unknown = sorted(set(decision_ids) - set(digests))
    if unknown:
        raise InputError("decision_ids", f"names files not in the snapshot: {', '.join(unknown)}")
    gate_predicate: dict[str, Any] = {
        "type": GATE_SNAPSHOT_TYPE,
        "recipient_id": recipient_id,
        "repo": repo_id,
        "commit": commit,
        "decision_ids": dict(decision_ids),
    }
    if issued_at is not None:
        gate_predicate["issued_at"] = issued_at
    statement = snapshot_statement(
        digests,
        model_name=model_name or commit,
        gate_predicate=gate_predicate,
        sidecar_path=sidecar_path,
    )
    envelope = signer.sign_envelope(
        canonical_json(statement), IN_TOTO_PAYLOAD_TYPE, deterministic=True
    )
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": public_key_hint(signer.public_key)},
            "tlogEntries": [],
        },
        "dsseEnvelope": envelope,
    }


def encode_bundle(bundle: Mapping[str, Any]) -> bytes:
    """The sidecar file's bytes: canonical JSON, so equal bundles are equal files."""
    return canonical_json(bundle)


@dataclass(frozen=True, slots=True)
class SnapshotManifest:
    """What a verified snapshot bundle says: the files and digests, and the gate's fields."""

    model_name: str
    digests: Mapping[str, str]
    gate: Mapping[str, Any]
    key_id: str


def verify_snapshot_bundle(
    bundle: Mapping[str, Any], trusted_keys: Mapping[str, ec.EllipticCurvePublicKey]
) -> SnapshotManifest:
    """Check a snapshot bundle's signature and internal consistency (not the files on disk).

    For checking the files, run `model_signing verify key` or compare `digests` with the
    hub's; this is for the gate's own clients that want the claims.
    """
    if not isinstance(bundle, Mapping) or bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise SignatureError(f"not a snapshot bundle: expected media type {BUNDLE_MEDIA_TYPE}")
    envelope = bundle.get("dsseEnvelope")
    if not isinstance(envelope, Mapping):
        raise SignatureError("malformed snapshot bundle: missing dsseEnvelope")
    payload, signed_kid = verify_envelope_key(
        envelope, trusted_keys, payload_type=IN_TOTO_PAYLOAD_TYPE
    )
    try:
        statement = json.loads(payload)
        subject = statement["subject"][0]
        predicate = statement["predicate"]
        resources = predicate["resources"]
        digests = {r["name"]: r["digest"] for r in resources}
        gate = predicate["weight_gate"]
        root_claimed = subject["digest"]["sha256"]
        model_name = subject["name"]
        root = hashlib.sha256()
        for r in resources:
            root.update(bytes.fromhex(r["digest"]))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise SignatureError(f"malformed snapshot bundle payload: {exc!r}") from exc
    if statement.get("predicateType") != MODEL_SIGNING_PREDICATE_TYPE:
        raise SignatureError("malformed snapshot bundle: not a model_signing predicate")
    if root.hexdigest() != root_claimed:
        raise SignatureError("malformed snapshot bundle: root digest does not match resources")
    return SnapshotManifest(model_name, digests, gate, signed_kid)
