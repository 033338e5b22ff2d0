"""What the plugin needs to know: the gate, the recipient's credential, whom to trust.

Trusted keys are the heart of it. Pinned PEM files (or a key-id -> key mapping) are the strong
option: a receipt verifies only if the operator's key signed it. `trusted_keys="endpoint"` fetches
the gate's JWK set from `{endpoint}/.well-known/gate-keys.json` once, on first use: trust on first
use, which protects against tampering after that fetch but not against a gate (or a machine in
the middle) that was already impersonated when the keys were fetched.

The recipient id a receipt must name comes from `recipient_id=` when given (pinned), else from the
gate's `/api/whoami-v2` for the configured token, fetched once on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from cryptography.hazmat.primitives.asymmetric import ec
from huggingface_hub import is_offline_mode

from weight_gate_hf.errors import GateSettingsError, GateVerificationError
from weight_gate_hf.receipts import key_id, keys_from_jwks, load_pem_keys, require_p256

JWKS_PATH = "/.well-known/gate-keys.json"
WHOAMI_PATH = "/api/whoami-v2"
_FETCH_TIMEOUT = 10.0

KeySpec = (
    str
    | os.PathLike[str]
    | Iterable[str | os.PathLike[str]]
    | Mapping[str, ec.EllipticCurvePublicKey]
)
"""PEM file or folder path(s), a key-id -> public key mapping, or the string "endpoint"."""


def _pem_paths(spec: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    items = [spec] if isinstance(spec, str | os.PathLike) else list(spec)
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        # A folder (e.g. a copy of the gate's `public/` key folder) means every PEM in it, so a
        # rotated-in key can be added by dropping a file next to the old ones.
        paths.extend(sorted(path.glob("*.pem")) if path.is_dir() else [path])
    if not paths:
        raise GateSettingsError("trusted_keys: no PEM public key files given")
    return paths


def static_keys(spec: KeySpec) -> dict[str, ec.EllipticCurvePublicKey] | None:
    """Keys fixed at install time, or None for "endpoint" (fetched later)."""
    if isinstance(spec, str) and spec == "endpoint":
        return None
    if isinstance(spec, Mapping):
        keys: dict[str, ec.EllipticCurvePublicKey] = {}
        try:
            for kid, key in spec.items():
                # A mapping whose ids do not match its keys would let one key vouch under
                # another's id.
                if key_id(require_p256(key, f"trusted key {kid}")) != kid:
                    raise GateSettingsError(f"trusted_keys: {kid!r} is not the id of its key")
                keys[kid] = key
        except GateSettingsError:
            raise
        except GateVerificationError as exc:
            raise GateSettingsError(f"trusted_keys: {exc}") from exc
        if not keys:
            raise GateSettingsError("trusted_keys: empty key mapping")
        return keys
    try:
        return load_pem_keys(_pem_paths(spec))
    except GateSettingsError:
        raise
    except GateVerificationError as exc:
        raise GateSettingsError(f"trusted_keys: {exc}") from exc


def _fetch_json(url: str, token: str | None) -> Any:
    # The stock client's offline guard applies to the plugin's own calls too.
    if is_offline_mode():
        raise GateVerificationError(
            f"cannot reach {url}: offline mode is enabled (HF_HUB_OFFLINE); pin trusted_keys"
            " with PEM files and recipient_id= to verify offline"
        )
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx2.Client(timeout=_FETCH_TIMEOUT, trust_env=True) as client:
            response = client.get(url, headers=headers)
    except httpx2.HTTPError as exc:
        raise GateVerificationError(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        message = response.headers.get("X-Error-Message") or response.reason_phrase
        raise GateVerificationError(f"{url} answered {response.status_code}: {message}")
    try:
        return response.json()
    except ValueError as exc:
        raise GateVerificationError(f"{url} did not answer JSON") from exc


@dataclass
class PluginConfig:
    """The installed plugin's settings; keys and recipient id are resolved once, lazily."""

    endpoint: str
    token: str | None
    trusted_keys: KeySpec
    require_receipts: bool
    cache_dir: Path
    is_parameters: Callable[[str], bool]
    recipient_id_pinned: str | None = None
    _keys: dict[str, ec.EllipticCurvePublicKey] | None = None
    _recipient_id: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint.rstrip("/")
        try:
            url = httpx2.URL(self.endpoint)
        except httpx2.InvalidURL as exc:
            raise GateSettingsError(f"endpoint: {self.endpoint!r} is not a URL ({exc})") from exc
        if url.scheme not in ("http", "https") or not url.host or " " in self.endpoint:
            raise GateSettingsError(f"endpoint: expected an http(s) URL, got {self.endpoint!r}")
        # Resolve pinned keys now so a bad PEM path fails at install, not at the first download.
        self._keys = static_keys(self.trusted_keys)
        self._recipient_id = self.recipient_id_pinned

    @property
    def origin(self) -> tuple[str, str, int | None]:
        url = httpx2.URL(self.endpoint)
        return url.scheme, url.host, url.port

    @property
    def base_path(self) -> str:
        return httpx2.URL(self.endpoint).path.rstrip("/")

    def keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """The trusted keys; with "endpoint", fetched from the gate's JWK set on first use."""
        with self._lock:
            if self._keys is None:
                document = _fetch_json(self.endpoint + JWKS_PATH, None)
                try:
                    self._keys = keys_from_jwks(document)
                except GateVerificationError as exc:
                    raise GateVerificationError(f"{self.endpoint}{JWKS_PATH}: {exc}") from exc
                if not self._keys:
                    raise GateVerificationError(f"{self.endpoint}{JWKS_PATH}: no keys")
            return self._keys

    def recipient_id(self) -> str:
        """Who receipts must name: the pinned id, else the gate's whoami for our token."""
        with self._lock:
            if self._recipient_id is None:
                if not self.token:
                    raise GateVerificationError(
                        "no recipient token: pass token= (or set GATE_PLUGIN_TOKEN / HF_TOKEN),"
                        " or pin recipient_id="
                    )
                body = _fetch_json(self.endpoint + WHOAMI_PATH, self.token)
                gate_part = body.get("gate") if isinstance(body, dict) else None
                rid = gate_part.get("recipient_id") if isinstance(gate_part, dict) else None
                if not isinstance(rid, str) or not rid:
                    raise GateVerificationError(
                        f"{self.endpoint}{WHOAMI_PATH} did not name a gate recipient id"
                        " (is the endpoint a Weight Gate?)"
                    )
                self._recipient_id = rid
            return self._recipient_id
