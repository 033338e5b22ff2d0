"""Re-checking files already in the local cache, and loading weights only after that check.

The client returns a cached file without asking the server, so a blob changed on disk after
download would be used as if the gate had vouched for it. `verify_cache` hashes each cached file
of a snapshot and checks it against the receipt kept beside the cache; `load_verified` does the
same for one safetensors file and then loads exactly the bytes it hashed (no window between the
check and the load in which the file could be swapped).

Expiry: a receipt vouches for a transfer when it happened, so cached files are checked against
their receipts as of the receipts' own issue time (pass `now=` to insist on unexpired receipts).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from weight_gate_hf.config import KeySpec, PluginConfig, static_keys
from weight_gate_hf.errors import GateVerificationError, NotInCacheError
from weight_gate_hf.files import parameter_test
from weight_gate_hf.hook import active
from weight_gate_hf.receipt_store import load_receipt, receipt_path
from weight_gate_hf.urls import COMMIT_RE, repo_folder_name, repo_id_from_folder
from weight_gate_hf.verify import check_receipt

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class CacheReport:
    """What `verify_cache` found: files whose receipt and bytes verified, and unreceipted ones."""

    repo_id: str
    commit: str
    verified: tuple[str, ...]
    unreceipted: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Checker:
    keys: Mapping[str, ec.EllipticCurvePublicKey]
    recipient_id: str
    cache_dir: Path
    require_receipts: bool
    is_parameters: Callable[[str], bool]


def _checker(
    cache_dir: str | os.PathLike[str] | None,
    trusted_keys: KeySpec | None,
    recipient_id: str | None,
) -> _Checker:
    """Explicit arguments first, then the installed plugin's settings."""
    config: PluginConfig | None = active()
    if trusted_keys is not None:
        keys = static_keys(trusted_keys)
        if keys is None:
            if config is None:
                raise GateVerificationError('trusted_keys="endpoint" needs an installed plugin')
            keys = config.keys()
    elif config is not None:
        keys = config.keys()
    else:
        raise GateVerificationError("no trusted keys: pass trusted_keys= or install the plugin")
    if recipient_id is None:
        if config is None:
            raise GateVerificationError("no recipient: pass recipient_id= or install the plugin")
        recipient_id = config.recipient_id()
    if cache_dir is not None:
        where = Path(cache_dir)
    elif config is not None:
        where = config.cache_dir
    else:
        from huggingface_hub import constants

        where = Path(constants.HF_HUB_CACHE)
    return _Checker(
        keys=keys,
        recipient_id=recipient_id,
        cache_dir=where,
        require_receipts=config.require_receipts if config is not None else True,
        is_parameters=config.is_parameters if config is not None else parameter_test(),
    )


def _digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def _check_file(
    checker: _Checker,
    repo_type: str,
    repo_id: str,
    commit: str,
    rel: str,
    sha256: str,
    size: int,
    now: datetime | None,
) -> bool:
    """True when a receipt verified this file; False when it has none; raises when it is bad."""
    envelope = load_receipt(receipt_path(checker.cache_dir, repo_type, repo_id, commit, rel))
    if envelope is None:
        return False
    check_receipt(
        envelope,
        checker.keys,
        where=f"{repo_id}@{commit[:12]} {rel}",
        repo_id=repo_id,
        commit=commit,
        path=rel,
        recipient_id=checker.recipient_id,
        now=now,
        sha256=sha256,
        size=size,
    )
    return True


def verify_cache(
    repo_id: str,
    revision: str = "main",
    *,
    repo_type: str = "model",
    cache_dir: str | os.PathLike[str] | None = None,
    trusted_keys: KeySpec | None = None,
    recipient_id: str | None = None,
    now: datetime | None = None,
) -> CacheReport:
    """Hash every cached file of `repo_id`@`revision` and check it against its receipt.

    Parameter files need a receipt that verifies (unless the plugin is installed with
    `require_receipts=False`); other files are checked when they have one. Raises
    GateVerificationError listing every problem; otherwise returns the report.
    """
    checker = _checker(cache_dir, trusted_keys, recipient_id)
    storage = checker.cache_dir / repo_folder_name(repo_id, repo_type)
    commit = revision
    if not COMMIT_RE.match(revision):
        try:
            commit = (storage / "refs" / revision).read_text().strip()
        except OSError as exc:
            raise NotInCacheError(
                f"{repo_id}@{revision} is not in the cache {checker.cache_dir}"
            ) from exc
    snapshot = storage / "snapshots" / commit
    if not snapshot.is_dir():
        raise NotInCacheError(f"{repo_id}@{commit} is not in the cache {checker.cache_dir}")
    verified: list[str] = []
    unreceipted: list[str] = []
    problems: list[str] = []
    for entry in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        rel = entry.relative_to(snapshot).as_posix()
        sha256, size = _digest(entry)
        try:
            ok = _check_file(checker, repo_type, repo_id, commit, rel, sha256, size, now)
        except GateVerificationError as exc:
            problems.append(str(exc))
            continue
        if ok:
            verified.append(rel)
        elif checker.require_receipts and checker.is_parameters(rel):
            problems.append(f"{repo_id}@{commit[:12]} {rel}: parameter file without a receipt")
        else:
            unreceipted.append(rel)
    if problems:
        raise GateVerificationError(
            f"{len(problems)} cached file(s) of {repo_id}@{commit[:12]} failed verification:\n  "
            + "\n  ".join(problems)
        )
    return CacheReport(repo_id, commit, tuple(verified), tuple(unreceipted))


def _locate(path: Path) -> tuple[Path, str, str, str, str]:
    """(cache dir, repo type, repo id, commit, path in repo) of a file in a cache snapshot."""
    parts = path.absolute().parts
    for i in range(len(parts) - 3, 0, -1):
        if parts[i] == "snapshots" and COMMIT_RE.match(parts[i + 1]):
            repo_type, repo_id = repo_id_from_folder(parts[i - 1])
            return Path(*parts[: i - 1]), repo_type, repo_id, parts[i + 1], "/".join(parts[i + 2 :])
    raise GateVerificationError(
        f"{path} is not a file of a Hugging Face cache snapshot"
        " (<cache>/models--org--name/snapshots/<commit>/...)"
    )


def load_verified(
    path: str | os.PathLike[str],
    framework: Literal["numpy", "pt"] = "numpy",
    *,
    trusted_keys: KeySpec | None = None,
    recipient_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Load a cached safetensors file's tensors, only if its receipt and bytes verify.

    The file is read once; those bytes are hashed, checked, then parsed, so what loads is what
    was checked. A file without a receipt is refused, whatever `require_receipts` says: loading
    is the point where unvouched weights would be used. `framework` is "numpy" or "pt" (torch).
    The whole file is held in memory while loading.
    """
    cache_dir, repo_type, repo_id, commit, rel = _locate(Path(path))
    checker = _checker(cache_dir, trusted_keys, recipient_id)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise GateVerificationError(f"{path}: cannot read ({exc.strerror})") from exc
    sha256 = hashlib.sha256(data).hexdigest()
    if not _check_file(checker, repo_type, repo_id, commit, rel, sha256, len(data), now):
        raise GateVerificationError(
            f"{repo_id}@{commit[:12]} {rel}: no gate receipt for this file; not loaded"
        )
    if framework not in ("numpy", "pt"):
        raise GateVerificationError(f"framework: expected numpy or pt, got {framework!r}")
    try:
        if framework == "numpy":
            from safetensors.numpy import load as load_numpy

            return dict(load_numpy(data))
        from safetensors.torch import load as load_torch

        return dict(load_torch(data))
    except ImportError as exc:
        raise GateVerificationError(
            f"load_verified needs safetensors (pip install 'weight-gate-hf[load]'): {exc}"
        ) from exc
