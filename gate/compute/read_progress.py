"""A `RepoReader` that reports each read it completes, so a long classification shows progress.

A classification's work is reading: whole small files, safetensors headers, and (for a folder
whose declaration names weight digests) hashing whole weight files. How many reads there will be
is not known until the pipeline has seen the listing and the card, so the total is reported as
unknown. The wrapper changes nothing it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gate.compute.reader import RepoFile, RepoReader

Progress = Callable[[int, int | None], None]
"""`progress(reads done, None)`."""


class ReadCounter:
    """Counts the reads of every reader it wrapped (a model and the bases it names)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.done = 0

    def wrap(self, reader: RepoReader) -> RepoReader:
        return _CountingReader(reader, self)

    def read(self) -> None:
        self.done += 1
        self.progress(self.done, None)


class _CountingReader:
    def __init__(self, inner: RepoReader, counter: ReadCounter) -> None:
        self.inner = inner
        self.counter = counter
        self.where = inner.where
        self.repo_id = inner.repo_id
        self.commit = inner.commit

    async def list_files(self) -> list[RepoFile]:
        return await self.inner.list_files()

    async def read_prefix(self, file: RepoFile, length: int) -> bytes:
        data = await self.inner.read_prefix(file, length)
        self.counter.read()
        return data

    async def file_sha256(self, file: RepoFile) -> str | None:
        digest = await self.inner.file_sha256(file)
        self.counter.read()
        return digest

    async def repo_info(self) -> Mapping[str, Any] | None:
        return await self.inner.repo_info()
