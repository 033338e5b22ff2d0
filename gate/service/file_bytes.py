"""What a file's bytes say, looked at once per file and commit (RULES.md "What is controlled").

A file is not parameters only when the ruleset names it so and, where the gate can see its
bytes, the bytes agree. The server sees every byte it serves, so for each file whose NAME says
not parameters it decides which bytes to look at, once per (repo, commit, path, digest):

- a size in the listing over the ruleset's cap: none; the file is parameters;
- otherwise the whole file (under the cap, so a bounded read from the local store or the
  upstream), checked against the digests the served stream is checked against, then the
  ruleset's test (`check_file(path, head, size)`: tensor-container signatures, UTF-8 text for
  text categories, an image's own signature).

A read that fails, or bytes whose digest is not the listed one, make the file parameters (fail
closed): a denied recipient then gets a refusal, not the bytes. A file whose name already says
parameters is not read. The answers are kept in memory, keyed by the digest, so a changed file
is looked at again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from typing import Protocol

from gate.core.files import FileCheck
from gate.errors import GateError
from gate.hub.source import FileEntry, ModelSource, Resolved, git_blob_oid

READS_AT_ONCE = 4
"""Whole-file reads in flight at once (each at most the ruleset's cap, 64 MiB by default)."""


class FileRulesHolder(Protocol):
    """Who applies the ruleset (set)'s file test: the gatekeeper."""

    def check_file(
        self, path: str, head: bytes | None = None, size: int | None = None
    ) -> FileCheck: ...


class FileBytes:
    """The byte check of one server process, over the source it serves from."""

    def __init__(self, source: ModelSource, *, max_entries: int = 65536) -> None:
        self.source = source
        self.max_entries = max_entries
        self._known: OrderedDict[tuple[str, str, str, str], FileCheck] = OrderedDict()
        self._locks: dict[tuple[str, str, str, str], asyncio.Lock] = {}
        self._reads = asyncio.Semaphore(READS_AT_ONCE)

    async def check(
        self, rules: FileRulesHolder, resolved: Resolved, entry: FileEntry
    ) -> FileCheck:
        """Whether `entry` of `resolved` is parameters, its bytes looked at when its name and
        size leave it a candidate for not parameters."""
        by_name = rules.check_file(entry.path, None, entry.size)
        if by_name.parameters:
            return by_name  # the name or the size already says parameters: nothing to read
        key = (resolved.repo_id, resolved.commit, entry.path, entry.sha256 or entry.git_oid)
        known = self._known.get(key)
        if known is not None:
            return known
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one read per file, however many first requests
            known = self._known.get(key)
            if known is None:
                known = await self._look(rules, resolved, entry)
                self._known[key] = known
                if len(self._known) > self.max_entries:
                    self._known.popitem(last=False)
        self._locks.pop(key, None)
        return known

    async def _look(
        self, rules: FileRulesHolder, resolved: Resolved, entry: FileEntry
    ) -> FileCheck:
        try:
            async with self._reads:
                chunks = self.source.open(resolved.repo_id, resolved.commit, entry, 0, entry.size)
                data = b"".join([chunk async for chunk in chunks])
        except (GateError, OSError) as exc:
            return FileCheck(True, f"its bytes could not be read ({exc}); treated as parameters")
        problem = _digest_problem(entry, data)
        if problem is not None:
            return FileCheck(True, f"{problem}; treated as parameters")
        return rules.check_file(entry.path, data, entry.size)


def _digest_problem(entry: FileEntry, data: bytes) -> str | None:
    """Why `data` is not the file the listing describes (what the stream is checked against)."""
    if len(data) != entry.size:
        return f"read {len(data)} bytes, the listing says {entry.size}"
    if entry.sha256 is not None and hashlib.sha256(data).hexdigest() != entry.sha256:
        return "its bytes do not match the listed sha256"
    if not entry.lfs and git_blob_oid(data) != entry.git_oid:
        return "its bytes do not match the listed git blob id"
    return None
