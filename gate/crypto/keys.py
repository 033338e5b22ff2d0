"""The gate's signing keys: ECDSA P-256, encrypted at rest, rotated without losing old receipts.

A key directory holds:

    keyring.json            which keys exist, which one signs, when each was made and retired
    private/<kid>.pem       the active private key, PKCS#8 PEM encrypted with the passphrase (0600)
    public/<kid>.pem        every public key ever active (SubjectPublicKeyInfo PEM)

Key ids come from `gate.crypto.dsse.key_id` (sha256 of the DER public key), so the file names,
`keyid` in envelopes and `kid` in the JWK set all agree and anyone can recompute them.

Rotation makes a new active key and retires the old one: its public key stays (receipts it signed
must keep verifying) and its private key file is deleted, since nothing should sign with it again
and a key that no longer exists cannot leak. The passphrase is never stored; callers get it from
`GATE_KEY_PASSPHRASE` or a prompt at the entry point and pass it in.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.crypto.dsse import key_id, require_p256, sign_envelope
from gate.errors import InputError, NotFoundError, SignatureError

KeyStatus = Literal["active", "retired"]
_KEYRING_FILE = "keyring.json"
_FORMAT = "weight-gate-keyring/v1"


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key ready to sign: what receipts and snapshot bundles are signed with."""

    key_id: str
    public_key: ec.EllipticCurvePublicKey
    _private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def from_private_key(cls, private_key: ec.EllipticCurvePrivateKey) -> Signer:
        """Wrap a P-256 private key (tests, and callers that manage keys themselves)."""
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise SignatureError("signing key: expected an ECDSA P-256 private key")
        public_key = require_p256(private_key.public_key(), "signing key")
        return cls(key_id(public_key), public_key, private_key)

    def sign(self, data: bytes) -> bytes:
        """DER-encoded ECDSA-SHA256 signature over `data`."""
        return self._private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    def sign_envelope(
        self, payload: bytes, payload_type: str, *, deterministic: bool = False
    ) -> dict[str, Any]:
        """A DSSE envelope over `payload`, `keyid` set to this key's id (see dsse.sign_envelope)."""
        return sign_envelope(
            payload, payload_type, self._private_key, self.key_id, deterministic=deterministic
        )

    def __repr__(self) -> str:  # never print key material
        return f"Signer(key_id={self.key_id!r})"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One entry of the key ring, as `gate keys list` shows it."""

    kid: str
    status: KeyStatus
    created: str
    retired: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "status": self.status,
            "created": self.created,
            "retired": self.retired,
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_passphrase(passphrase: str | None) -> bytes:
    if passphrase is None or passphrase == "":
        raise InputError(
            "passphrase",
            "a passphrase is required (set GATE_KEY_PASSPHRASE or enter it at the prompt)",
        )
    return passphrase.encode("utf-8")


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write `path` atomically, with `mode` from creation (a key is never world-readable)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _public_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_public_pem(data: bytes, source: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(f"{source}: not a PEM public key ({exc})") from exc
    return require_p256(key, source)


def _b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def _int_b64url(text: object, field: str) -> int:
    if not isinstance(text, str):
        raise SignatureError(f"JWK {field}: expected a base64url string")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise SignatureError(f"JWK {field}: not base64url") from exc
    if len(raw) != 32:
        raise SignatureError(f"JWK {field}: expected 32 bytes for P-256, got {len(raw)}")
    return int.from_bytes(raw, "big")


def jwk(public_key: ec.EllipticCurvePublicKey, status: KeyStatus | None = None) -> dict[str, Any]:
    """RFC 7517/7518 JWK of a P-256 public key, `kid` being the gate's key id."""
    numbers = require_p256(public_key).public_numbers()
    entry: dict[str, Any] = {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url_int(numbers.x),
        "y": _b64url_int(numbers.y),
        "kid": key_id(public_key),
        "use": "sig",
        "alg": "ES256",
    }
    if status is not None:
        entry["status"] = status
    return entry


def public_keys_from_jwks(document: Mapping[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    """Trusted keys from a JWK set such as `/.well-known/gate-keys.json`.

    Each `kid` must equal the key id derived from the key itself: a mislabelled entry is an
    error, not a key to trust under a name it does not own.
    """
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise SignatureError("JWK set: expected an object with a 'keys' list")
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise SignatureError(f"JWK set: keys[{index}] is not an object")
        if entry.get("kty") != "EC" or entry.get("crv") != "P-256":
            raise SignatureError(f"JWK set: keys[{index}] is not an EC P-256 key")
        x = _int_b64url(entry.get("x"), f"keys[{index}].x")
        y = _int_b64url(entry.get("y"), f"keys[{index}].y")
        try:
            public_key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        except ValueError as exc:
            raise SignatureError(f"JWK set: keys[{index}] is not a point on P-256") from exc
        kid = key_id(public_key)
        if entry.get("kid") != kid:
            raise SignatureError(
                f"JWK set: keys[{index}] has kid {entry.get('kid')!r} but the key's id is {kid}"
            )
        keys[kid] = public_key
    return keys


def load_public_keys(
    paths: Iterable[str | os.PathLike[str]],
) -> dict[str, ec.EllipticCurvePublicKey]:
    """Trusted keys (e.g. declarers') from PEM public key files, keyed by their derived key id."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(
                "trusted_keys", f"cannot read {os.fspath(path)}: {exc.strerror}"
            ) from exc
        public_key = _load_public_pem(data, os.fspath(path))
        keys[key_id(public_key)] = public_key
    return keys


class KeyRing:
    """The gate's key directory (see the module docstring for its layout)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    # -- reading ---------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return (self.directory / _KEYRING_FILE).is_file()

    def _index(self) -> dict[str, Any]:
        path = self.directory / _KEYRING_FILE
        try:
            index = json.loads(path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"no key ring in {self.directory} (run `gate keys init` first)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise SignatureError(f"{path}: unreadable key ring ({exc})") from exc
        if not isinstance(index, dict) or index.get("format") != _FORMAT:
            raise SignatureError(f"{path}: not a {_FORMAT} key ring")
        return index

    def list_keys(self) -> list[KeyInfo]:
        """Every key, newest first (the ring appends, so reversed file order is age order)."""
        entries = self._index().get("keys")
        if not isinstance(entries, list):
            raise SignatureError(f"{self.directory}: key ring has no key list")
        return [
            KeyInfo(e["kid"], e["status"], e["created"], e.get("retired"))
            for e in reversed(entries)
        ]

    @property
    def active_key_id(self) -> str:
        kid = self._index().get("active")
        if not isinstance(kid, str):
            raise SignatureError(f"{self.directory}: key ring has no active key")
        return kid

    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """Active and retired public keys by key id: everything a receipt may be verified with."""
        keys: dict[str, ec.EllipticCurvePublicKey] = {}
        for info in self.list_keys():
            path = self.directory / "public" / f"{info.kid}.pem"
            try:
                public_key = _load_public_pem(path.read_bytes(), str(path))
            except OSError as exc:
                raise SignatureError(f"{path}: cannot read public key ({exc.strerror})") from exc
            # The file name is not trusted: a swapped file would otherwise verify under a wrong id.
            if key_id(public_key) != info.kid:
                raise SignatureError(f"{path}: key does not match its id {info.kid}")
            keys[info.kid] = public_key
        return keys

    def jwks(self) -> dict[str, Any]:
        """The JWK set to publish at `/.well-known/gate-keys.json` (active first)."""
        public = self.public_keys()
        return {"keys": [jwk(public[info.kid], info.status) for info in self.list_keys()]}

    def export_public_pem(self, kid: str | None = None) -> str:
        """PEM of one public key (default: the active one)."""
        kid = kid or self.active_key_id
        public = self.public_keys()
        if kid not in public:
            raise NotFoundError(f"no key {kid} in {self.directory}")
        return _public_pem(public[kid]).decode("ascii")

    def active_signer(self, passphrase: str | None) -> Signer:
        """Decrypt the active private key; a missing or wrong passphrase is a clear error."""
        password = _check_passphrase(passphrase)
        kid = self.active_key_id
        path = self.directory / "private" / f"{kid}.pem"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SignatureError(f"{path}: cannot read private key ({exc.strerror})") from exc
        try:
            private_key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError) as exc:
            # cryptography says "Bad decrypt. Incorrect password?" or similar; name the cause.
            raise SignatureError(
                f"cannot decrypt signing key {kid}: wrong passphrase or damaged key file"
            ) from exc
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise SignatureError(f"{path}: not an ECDSA private key")
        signer = Signer.from_private_key(private_key)
        if signer.key_id != kid:
            raise SignatureError(f"{path}: key does not match its id {kid}")
        return signer

    # -- writing ---------------------------------------------------------------------------

    def _write_index(self, index: dict[str, Any]) -> None:
        data = json.dumps(index, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        _write_file(self.directory / _KEYRING_FILE, data, 0o600)

    def _new_key(self, password: bytes) -> str:
        private_key = ec.generate_private_key(ec.SECP256R1())
        kid = key_id(private_key.public_key())
        for sub in ("private", "public"):
            (self.directory / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        encrypted = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        _write_file(self.directory / "private" / f"{kid}.pem", encrypted, 0o600)
        _write_file(
            self.directory / "public" / f"{kid}.pem", _public_pem(private_key.public_key()), 0o644
        )
        return kid

    def init(self, passphrase: str | None) -> str:
        """Create the key directory and its first signing key; returns the key id."""
        password = _check_passphrase(passphrase)
        if self.initialized:
            raise InputError(
                "key_dir", f"{self.directory} already holds a key ring (use `gate keys rotate`)"
            )
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        kid = self._new_key(password)
        self._write_index(
            {
                "format": _FORMAT,
                "active": kid,
                "keys": [{"kid": kid, "status": "active", "created": _now(), "retired": None}],
            }
        )
        return kid

    def rotate(self, passphrase: str | None, new_passphrase: str | None = None) -> str:
        """Make a new active key and retire the old one; returns the new key id.

        The current passphrase must open the current key first, so a mistyped passphrase cannot
        leave the gate with a key nobody can decrypt. The new key is encrypted with
        `new_passphrase` when given, else with the same passphrase.
        """
        old = self.active_signer(passphrase).key_id
        password = _check_passphrase(new_passphrase if new_passphrase is not None else passphrase)
        index = self._index()
        kid = self._new_key(password)
        now = _now()
        for entry in index["keys"]:
            if entry["kid"] == old:
                entry["status"] = "retired"
                entry["retired"] = now
        index["keys"].append({"kid": kid, "status": "active", "created": now, "retired": None})
        index["active"] = kid
        # Index first, then delete the retired private key: a crash in between leaves an unused
        # encrypted file behind, never a ring whose active key is missing.
        self._write_index(index)
        (self.directory / "private" / f"{old}.pem").unlink(missing_ok=True)
        return kid
