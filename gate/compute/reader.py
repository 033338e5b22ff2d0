"""What the classifier reads a repository through: list its files, read a byte prefix, a digest.

One small interface (`RepoReader`) with implementations over a local folder (here) and over a
model source, the local store or an upstream hub (`gate.service.readers`), so one pipeline
(`gate.compute.pipeline`) classifies a model wherever it is. Readers never read more of a
parameter file than the prefix asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gate.errors import MetadataError


@dataclass(frozen=True, slots=True)
class RepoFile:
    """One file of the repository: its path, size in bytes and sha256 when known."""

    path: str
    size: int
    sha256: str | None = None


class RepoReader(Protocol):
    where: str
    """How messages name the repository ("org/name@commit", a folder path)."""
    repo_id: str | None
    """The repository's canonical id; None for a folder, which has no name of its own."""
    commit: str | None
    """The commit read; None for a folder."""

    async def list_files(self) -> list[RepoFile]:
        """Every file, sorted by path."""
        ...

    async def read_prefix(self, file: RepoFile, length: int) -> bytes:
        """The first `length` bytes of a file (fewer at its end)."""
        ...

    async def file_sha256(self, file: RepoFile) -> str | None:
        """The file's sha256 (None when the reader cannot know it without the bytes)."""
        ...

    async def repo_info(self) -> Mapping[str, Any] | None:
        """The hub's repository info (`private`, `gated`, `cardData`), or None."""
        ...


class FolderReader:
    """A model folder on disk (a snapshot, a checkpoint directory)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise MetadataError(str(root), "not a folder")
        self.root = root
        self.where = str(root)
        self.repo_id: str | None = None
        self.commit: str | None = None

    async def list_files(self) -> list[RepoFile]:
        files = []
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                files.append(RepoFile(path.relative_to(self.root).as_posix(), path.stat().st_size))
        return files

    async def read_prefix(self, file: RepoFile, length: int) -> bytes:
        try:
            with (self.root / file.path).open("rb") as handle:
                return handle.read(length)
        except OSError as exc:
            raise MetadataError(f"{self.where}/{file.path}", f"cannot read: {exc}") from exc

    async def file_sha256(self, file: RepoFile) -> str | None:
        digest = hashlib.sha256()
        try:
            with (self.root / file.path).open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            raise MetadataError(f"{self.where}/{file.path}", f"cannot read: {exc}") from exc
        return digest.hexdigest()

    async def repo_info(self) -> Mapping[str, Any] | None:
        return None
