"""The classifier's `RepoReader` over a model source: the local store or an upstream hub.

The server classifies through the source it serves from; `gate classify REPO --endpoint URL`
through an `UpstreamSource` on that URL, the same client the server proxies with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.compute.reader import RepoFile
from gate.hub.source import FileEntry, ModelSource, Resolved


class SourceReader:
    """One commit of one repository in a `ModelSource`, as the classification pipeline reads it."""

    def __init__(self, source: ModelSource, resolved: Resolved) -> None:
        self.source = source
        self.resolved = resolved
        self.repo_id: str | None = resolved.repo_id
        self.commit: str | None = resolved.commit
        self.where = f"{resolved.repo_id}@{resolved.commit}"
        self._entries: dict[str, FileEntry] = {}

    async def list_files(self) -> list[RepoFile]:
        listing = await self.source.list_files(self.resolved.repo_id, self.resolved.commit)
        self._entries = {entry.path: entry for entry in listing}
        return [RepoFile(e.path, e.size, e.sha256) for e in listing]

    async def _entry(self, file: RepoFile) -> FileEntry:
        entry = self._entries.get(file.path)
        if entry is None:
            entry = await self.source.file(self.resolved.repo_id, self.resolved.commit, file.path)
        return entry

    async def read_prefix(self, file: RepoFile, length: int) -> bytes:
        entry = await self._entry(file)
        chunks = self.source.open(
            self.resolved.repo_id, self.resolved.commit, entry, 0, min(length, entry.size)
        )
        return b"".join([chunk async for chunk in chunks])

    async def file_sha256(self, file: RepoFile) -> str | None:
        # What the source says is the digest the stream is checked against when served.
        return (await self._entry(file)).sha256

    async def repo_info(self) -> Mapping[str, Any] | None:
        return await self.source.repo_info(self.resolved.repo_id, self.resolved.commit)
