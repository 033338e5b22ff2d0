"""Writing repositories in the Hugging Face cache layout, the local store's format.

What `snapshot_download(cache_dir=DIR)` fills, written directly: an operator's tools, the demo
and the tests lay out models with it. Blobs are named as the hub names them (sha256 for LFS
files, the git blob id otherwise); snapshot entries are relative symlinks into `blobs/`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from gate.errors import InputError
from gate.hub.local import repo_folder
from gate.hub.source import git_blob_oid

LFS_MIN = 1000
"""Files this large, and every safetensors file, are stored as LFS blobs (named by sha256)."""


def _check_path(path: str) -> None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("..", ".", "") for p in pure.parts):
        raise InputError("path", f"not a relative repository path: {path!r}")


def write_snapshot(
    root: Path,
    repo_id: str,
    files: Mapping[str, bytes],
    *,
    refs: tuple[str, ...] = ("main",),
    commit: str | None = None,
    lfs_min: int = LFS_MIN,
) -> str:
    """Lay `files` out as one commit of `repo_id` under `root`; returns the commit."""
    for path in files:
        _check_path(path)
    commit = (
        commit
        or hashlib.sha1(
            (repo_id + "".join(sorted(files))).encode(), usedforsecurity=False
        ).hexdigest()
    )
    folder = root / repo_folder(repo_id)
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    for ref in refs:
        (folder / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (folder / "refs" / ref).write_text(commit)
    for path, data in files.items():
        lfs = len(data) >= lfs_min or path.endswith(".safetensors")
        name = hashlib.sha256(data).hexdigest() if lfs else git_blob_oid(data)
        (folder / "blobs" / name).write_bytes(data)
        link = folder / "snapshots" / commit / path
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        depth = path.count("/") + 2
        link.symlink_to(Path(*([".."] * depth), "blobs", name))
    return commit
