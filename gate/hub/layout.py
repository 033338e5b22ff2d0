"""Writing repositories in the Hugging Face cache layout, the local store's format.

What `snapshot_download(cache_dir=DIR)` fills, written directly: an operator's tools, the demo
and the tests lay out models with it. Blobs are named as the hub names them (sha256 for LFS
files, the git blob id otherwise); snapshot entries are relative symlinks into `blobs/`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gate.errors import InputError
from gate.hub.local import repo_folder
from gate.hub.source import CHUNK_SIZE, git_blob_oid
from gate.names import is_ref, is_repo_id

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


@dataclass(frozen=True, slots=True)
class Imported:
    """What `import_folder` put into the store."""

    repo_id: str
    revision: str
    commit: str
    files: int
    size: int


def content_commit(digests: Mapping[str, str]) -> str:
    """A commit id named by content alone: the sha1 of every (path, sha256), sorted.

    The same files give the same commit whoever imports them and whenever, so an import that
    changed nothing changes no decision, and a changed byte is a new commit.
    """
    digest = hashlib.sha1(b"weight-gate import v1\n", usedforsecurity=False)
    for path in sorted(digests):
        digest.update(f"{path}\0{digests[path]}\n".encode())
    return digest.hexdigest()


def folder_files(folder: Path) -> dict[str, Path]:
    """The files of a model folder as `save_pretrained` writes it, by repository path.

    Hidden entries (`.git`, `.cache`, `.gitattributes` kept by some tools) are left out, and so is
    anything a symlink would bring in from outside the folder.
    """
    if not folder.is_dir():
        raise InputError("folder", f"{folder} is not a folder")
    root = folder.resolve()
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = Path(dirpath) / name
            real = full.resolve()
            if not real.is_file() or not real.is_relative_to(root):
                continue
            found[full.relative_to(root).as_posix()] = real
    if not found:
        raise InputError("folder", f"{folder} holds no files to import")
    return found


def _copy_blob(
    source: Path, blobs: Path, on_bytes: Callable[[int], None] | None
) -> tuple[str, str]:
    """Copy a file into `blobs/` under a temporary name; returns (sha256, git blob id) and
    leaves the copy as `blobs/.import-<sha256>` for the caller to name."""
    size = source.stat().st_size
    sha = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    handle, temporary = tempfile.mkstemp(prefix=".import-", dir=blobs)
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            while chunk := src.read(CHUNK_SIZE):
                sha.update(chunk)
                git.update(chunk)
                out.write(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
        final = blobs / f".import-{sha.hexdigest()}"
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sha.hexdigest(), git.hexdigest()


def import_folder(
    root: Path,
    repo_id: str,
    folder: Path,
    *,
    revision: str = "main",
    lfs_min: int = LFS_MIN,
    on_bytes: Callable[[int], None] | None = None,
) -> Imported:
    """Put a model folder into the store `root` as one commit of `repo_id`; point `revision` at it.

    Blobs are content-addressed (sha256 for LFS files and every safetensors file, the git blob id
    otherwise), the commit is `content_commit` of the files, and files are streamed, never held
    in memory whole. `on_bytes` is told of every chunk copied (for a progress bar).
    """
    if not is_repo_id(repo_id):
        raise InputError("repo", f"expected a repository name like org/name, got {repo_id!r}")
    if not is_ref(revision) or any(p in (".", "..") for p in revision.split("/")):
        raise InputError("revision", f"not a usable revision name: {revision!r}")
    files = folder_files(folder)
    repo_dir = root / repo_folder(repo_id)
    blobs = repo_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    names: dict[str, str] = {}
    total = 0
    for path, source in files.items():
        sha, oid = _copy_blob(source, blobs, on_bytes)
        size = source.stat().st_size
        total += size
        name = sha if size >= lfs_min or path.endswith(".safetensors") else oid
        os.replace(blobs / f".import-{sha}", blobs / name)
        digests[path], names[path] = sha, name
    commit = content_commit(digests)
    snapshot = repo_dir / "snapshots" / commit
    for path, name in names.items():
        link = snapshot / path
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(Path(*([".."] * (path.count("/") + 2)), "blobs", name))
    ref = repo_dir / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit)
    return Imported(repo_id, revision, commit, len(files), total)
