"""Model sources: where repositories, commits and file bytes come from, behind one interface.

The server never touches a filesystem path or an upstream URL itself; it asks a `ModelSource` to
resolve a revision to a commit, to describe a file (size and digests known in advance) and to
stream a byte range. Two implementations: `gate.hub.local.LocalStore` (a folder in the Hugging
Face cache layout) and `gate.hub.upstream.UpstreamSource` (any Hub-compatible server).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from gate.errors import NotFoundError

if TYPE_CHECKING:
    from gate.hub.verified import VerifiedBlobs

CHUNK_SIZE = 1024 * 1024
"""Largest chunk read from a source: one stream on loopback needs about 1 MiB per read (and per
thread hop and send) to keep up with a plain static server."""
MIN_CHUNK_SIZE = 64 * 1024
CHUNK_BUDGET = 32 * 1024 * 1024
"""Bytes of chunks the open streams may hold together: each holds about two chunks (the one
going out, the one being hashed), so many concurrent downloads share this budget."""


class _OpenStreams:
    """How many source streams are open in this process (event-loop only, so no lock)."""

    count = 0


def chunk_size() -> int:
    """The chunk size for the next read: 1 MiB for a few streams, less as more are open."""
    share = CHUNK_BUDGET // (2 * max(1, _OpenStreams.count))
    size = CHUNK_SIZE
    while size > share and size > MIN_CHUNK_SIZE:
        size //= 2
    return size


@contextmanager
def stream_slot() -> Iterator[None]:
    """Counts an open source stream for `chunk_size` while the `with` block runs."""
    _OpenStreams.count += 1
    try:
        yield
    finally:
        _OpenStreams.count -= 1


class RepoNotFound(NotFoundError):
    """No repository by that name in the source (the hub's `RepoNotFound`)."""


class RevisionNotFound(NotFoundError):
    """The repository exists but the revision (branch, tag, commit) does not."""


class EntryNotFound(NotFoundError):
    """The commit exists but has no file at that path."""

    def __init__(self, message: str, commit: str) -> None:
        super().__init__(message)
        self.commit = commit


@dataclass(frozen=True, slots=True)
class Resolved:
    """A revision bound to its commit; `repo_id` is the source's canonical spelling."""

    repo_id: str
    commit: str
    revision: str


@dataclass(frozen=True, slots=True)
class Refs:
    """A repository's named revisions as (name, commit) pairs, as `list_repo_refs` reports them.

    A local store cannot tell a branch from a tag (the cache layout keeps both as `refs/NAME`),
    so it reports every name outside `refs/pr/` as a branch.
    """

    branches: tuple[tuple[str, str], ...]
    tags: tuple[tuple[str, str], ...] = ()
    pull_requests: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of one commit, with what the gate must know before any byte leaves.

    `sha256` is the digest the body is checked against; `ModelSource.file` always fills it, a
    listing may leave it `None` for small files an upstream has not sent yet. `git_oid` is the git
    blob id the hub reports as `oid` (for LFS files, the id of the pointer file); for a non-LFS
    file it is a digest of the content too, and the stream is checked against it as well. `lfs`
    marks files the hub keeps in LFS: their ETag is the sha256, other files' ETag the git blob id.
    """

    path: str
    size: int
    sha256: str | None
    git_oid: str
    lfs: bool

    @property
    def etag(self) -> str:
        if self.lfs and self.sha256 is not None:
            return self.sha256
        return self.git_oid

    def lfs_pointer(self) -> bytes:
        assert self.sha256 is not None, "an LFS entry always has its sha256"
        return lfs_pointer(self.sha256, self.size)

    def tree_entry(self) -> dict[str, object]:
        """The entry as `/tree` and `/paths-info` list it (never with `xetHash`)."""
        entry: dict[str, object] = {
            "type": "file",
            "path": self.path,
            "size": self.size,
            "oid": self.git_oid,
        }
        if self.lfs:
            entry["lfs"] = {
                "oid": self.sha256,
                "size": self.size,
                "pointerSize": len(self.lfs_pointer()),
            }
        return entry


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file for a blob (what git stores in place of the bytes)."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


def git_blob_oid(data: bytes) -> str:
    """Git's id of a blob: sha1 over `blob <size>\\0` and the bytes."""
    digest = hashlib.sha1(f"blob {len(data)}\0".encode(), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


class ModelSource(Protocol):
    """Repositories, commits and bytes. Every method may raise `gate.errors.UpstreamError`."""

    name: str
    """Short description for logs and `/readyz` ("store /srv/models", "upstream https://...")."""

    async def resolve(self, repo_id: str, revision: str) -> Resolved:
        """Bind a revision to a commit; raises RepoNotFound or RevisionNotFound."""
        ...

    async def refs(self, repo_id: str) -> Refs:
        """The repository's branches, tags and pull requests; raises RepoNotFound."""
        ...

    async def list_files(self, repo_id: str, commit: str) -> list[FileEntry]:
        """Every file of a commit, sorted by path (`repo_id` as `resolve` spelled it)."""
        ...

    async def file(self, repo_id: str, commit: str, path: str) -> FileEntry:
        """One file of a commit; raises EntryNotFound."""
        ...

    def open(
        self, repo_id: str, commit: str, entry: FileEntry, start: int, stop: int
    ) -> AsyncIterator[bytes]:
        """Stream bytes [start, stop) of a file in chunks of at most `chunk_size()`."""
        ...

    async def repo_info(self, repo_id: str, commit: str) -> dict[str, Any] | None:
        """The hub's repository info at a commit (`private`, `gated`, ...); None: not a hub."""
        ...

    async def ready(self) -> None:
        """Raise UpstreamError when the source cannot serve."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BlobsOnDisk(Protocol):
    """A source some of whose files' bytes lie on this machine's disk (a local store, an
    upstream's cache): those verified against their sha256 go out with sendfile."""

    def blob_on_disk(
        self, repo_id: str, commit: str, entry: FileEntry
    ) -> tuple[str, VerifiedBlobs] | None:
        """Where the file's bytes are, and the registry that says whether they were verified
        (None: not on disk here). The path is only ever opened and checked against the
        registry's identity: a file that is not the verified one is not sent from it."""
        ...
