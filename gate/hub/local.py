"""The local store: a folder in the Hugging Face cache layout, served as a hub.

Layout (what `huggingface_hub.snapshot_download(cache_dir=DIR)` fills):

    DIR/models--org--name/refs/<revision>          text file holding a 40-hex commit
    DIR/models--org--name/snapshots/<commit>/<path> symlink to ../../blobs/<etag> (or a plain file)
    DIR/models--org--name/blobs/<etag>              sha256 for LFS files, git blob id otherwise

Digests are known without re-hashing per request: an LFS blob is named by its sha256; a small
file is hashed once and remembered (keyed by its real path, size and mtime, so an edited file is
hashed again). Files are listed by walking the snapshot; a request is only ever answered for a
path in that listing, so `..`, absolute paths and symlinks pointing outside the repository folder
cannot reach other files.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread

from gate.errors import UpstreamError
from gate.hub.source import (
    CHUNK_SIZE,
    EntryNotFound,
    FileEntry,
    Refs,
    RepoNotFound,
    Resolved,
    RevisionNotFound,
    chunk_size,
    git_blob_oid,
    lfs_pointer,
    stream_slot,
)
from gate.hub.verified import VerifiedBlobs
from gate.names import is_commit, is_ref, is_repo_id, is_sha256

LFS_MIN_SIZE = 10 * 1024 * 1024
"""Plain (non-symlinked) files this large are listed as LFS files, as the hub would store them."""

_PREFIX = "models--"
_FOLDERS_RECHECK = 1.0
"""Seconds the list of repository folders is used before the root's mtime is looked at again."""
_MAX_REFS = 65536


def repo_folder(repo_id: str) -> str:
    return _PREFIX + repo_id.replace("/", "--")


def _hash_file(path: str) -> tuple[str, str]:
    """(sha256, git blob id) of a file, read once in chunks."""
    size = os.path.getsize(path)
    sha = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            sha.update(chunk)
            git.update(chunk)
    return sha.hexdigest(), git.hexdigest()


class LocalStore:
    """A `ModelSource` over a Hugging Face cache folder."""

    def __init__(
        self, root: str | os.PathLike[str], *, verify_max_age: float | None = 24 * 3600.0
    ) -> None:
        self.root = Path(root).resolve()
        self.name = f"store {self.root}"
        self._digests: dict[tuple[str, int, int], tuple[str, str]] = {}
        self._listings: dict[tuple[str, str], dict[str, FileEntry]] = {}
        self._folders: tuple[int, dict[str, list[str]]] | None = None
        self._folders_seen = 0.0
        """When the root folder's mtime was last looked at (monotonic)."""
        self._refs_read: dict[str, tuple[tuple[int, int, int, int], str]] = {}
        """ref file -> ((inode, size, mtime_ns, ctime_ns), what it held): read again when it
        changes."""
        self._real_paths: dict[tuple[str, str], dict[str, str]] = {}
        self._repo_dirs: dict[str, tuple[dict[str, list[str]], tuple[str, Path]]] = {}
        """repo id as asked -> (the folder list it was found in, (canonical id, folder))."""
        """(folder, commit) -> path -> real path of its bytes, found when the commit is listed."""
        self.verified = VerifiedBlobs(verify_max_age)
        """Blobs whose bytes matched their sha256 (sent zero-copy while their identity holds)."""

    # -- repositories and revisions ----------------------------------------------------------

    def repositories(self) -> list[str]:
        """Every repository the store holds (a `models--org--name` folder with a snapshot)."""
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except OSError as exc:
            raise UpstreamError(f"local store {self.root} unreadable: {exc}") from exc
        found = []
        for entry in entries:
            if not entry.name.startswith(_PREFIX) or not entry.is_dir():
                continue
            repo_id = entry.name[len(_PREFIX) :].replace("--", "/")
            snapshots = Path(entry.path) / "snapshots"
            if snapshots.is_dir() and is_repo_id(repo_id):
                found.append(repo_id)
        return found

    def _repo_dir(self, repo_id: str) -> tuple[str, Path]:
        """Canonical spelling and folder of a repository, matched case-insensitively.

        The hub treats repository names case-insensitively; answering under the folder's own
        spelling means every decision and record names one repository however it was typed.
        """
        names = self._folder_names(fresh=False)
        known = self._repo_dirs.get(repo_id)
        if known is not None and known[0] is names:
            return known[1]
        if not is_repo_id(repo_id):
            raise RepoNotFound(f"repository {repo_id!r} not found")
        wanted = repo_folder(repo_id).casefold()
        matches = names.get(wanted, [])
        if not matches:  # a folder added within the root's mtime granularity: look again
            matches = self._folder_names(fresh=True).get(wanted, [])
        if len(matches) != 1:
            # Zero: unknown. Two: folders differing only in case; refuse rather than pick one.
            raise RepoNotFound(f"repository {repo_id!r} not found")
        folder = matches[0]
        found = folder[len(_PREFIX) :].replace("--", "/"), self.root / folder
        if len(self._repo_dirs) >= _MAX_REFS:
            self._repo_dirs.clear()
        # Kept with the folder list it was found in: a new list (a folder added, removed or
        # renamed) is looked up again.
        self._repo_dirs[repo_id] = (self._folders[1] if self._folders else names, found)
        return found

    def _folder_names(self, *, fresh: bool) -> dict[str, list[str]]:
        """The repository folders by case-folded name, rescanned only when the root folder's
        mtime changes (adding, removing or renaming a folder in it does) or when `fresh`.

        The mtime is looked at no more than once per `_FOLDERS_RECHECK` seconds: a stat per
        request, on the event loop, cost more than the rest of a small file's answer. A new
        folder is still found at once (an unknown name looks again, `fresh`), and a folder
        removed meanwhile is found missing when its files are read (`resolve` looks again)."""
        now = time.monotonic()
        if not fresh and self._folders is not None and now - self._folders_seen < _FOLDERS_RECHECK:
            return self._folders[1]
        try:
            stamp = os.stat(self.root).st_mtime_ns
            self._folders_seen = now
            if not fresh and self._folders is not None and self._folders[0] == stamp:
                return self._folders[1]
            names: dict[str, list[str]] = {}
            for e in os.scandir(self.root):
                if e.is_dir():
                    names.setdefault(e.name.casefold(), []).append(e.name)
        except OSError as exc:
            raise UpstreamError(f"local store {self.root} unreadable: {exc}") from exc
        self._folders = (stamp, names)
        return names

    async def resolve(self, repo_id: str, revision: str) -> Resolved:
        try:
            return self._resolve(repo_id, revision)
        except RevisionNotFound:
            before = None if self._folders is None else self._folders[1]
            if self._folder_names(fresh=True) == before:
                raise
            # The folder list was up to a second old: answer for the store as it is now.
            return self._resolve(repo_id, revision)

    def _resolve(self, repo_id: str, revision: str) -> Resolved:
        canonical, folder = self._repo_dir(repo_id)
        if is_commit(revision) and self._has_snapshot(folder, revision):
            return Resolved(canonical, revision, revision)
        if not is_ref(revision) or ".." in revision.split("/"):
            raise RevisionNotFound(f"revision {revision!r} not found in {canonical}")
        commit = self._read_ref(str(folder / "refs" / revision))
        if commit is None:
            raise RevisionNotFound(f"revision {revision!r} not found in {canonical}")
        if not is_commit(commit) or not self._has_snapshot(folder, commit):
            raise RevisionNotFound(f"revision {revision!r} of {canonical} points to no snapshot")
        return Resolved(canonical, commit, revision)

    def _has_snapshot(self, folder: Path, commit: str) -> bool:
        # Looked at every time, listed or not: a commit's files never change, but the operator
        # may take the whole revision down (its snapshot removed, its blobs shared and kept),
        # and then its files must not be served from the listing kept in memory.
        return (folder / "snapshots" / commit).is_dir()

    def _read_ref(self, path: str) -> str | None:
        """What a ref file holds (None: no such ref), read again only when the file changed:
        one stat instead of an open, a read and a close per request."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        # The ctime too: a ref is rewritten in place (same inode and size), and an mtime can
        # be set back or land in the same tick; nothing sets a ctime back.
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        known = self._refs_read.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        try:
            with open(path, encoding="ascii") as handle:
                commit = handle.read().strip()
        except (OSError, UnicodeDecodeError):
            return None
        if len(self._refs_read) >= _MAX_REFS:
            self._refs_read.clear()
        self._refs_read[path] = (stamp, commit)
        return commit

    def _refs(self, repo_id: str) -> Refs:
        _, folder = self._repo_dir(repo_id)
        refs_dir = folder / "refs"
        found: list[tuple[str, str]] = []
        for path in sorted(refs_dir.rglob("*")) if refs_dir.is_dir() else []:
            name = path.relative_to(refs_dir).as_posix()
            if path.is_symlink() or not path.is_file() or not is_ref(name):
                continue
            try:
                commit = path.read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if is_commit(commit) and (folder / "snapshots" / commit).is_dir():
                found.append((name, commit))
        pulls = tuple((n, c) for n, c in found if n.startswith("refs/pr/"))
        return Refs(tuple((n, c) for n, c in found if not n.startswith("refs/")), (), pulls)

    async def refs(self, repo_id: str) -> Refs:
        return await anyio.to_thread.run_sync(self._refs, repo_id)

    # -- files -------------------------------------------------------------------------------

    def _entry(self, folder: Path, rel: str, real: str) -> FileEntry:
        stat = os.stat(real)
        blob_name = os.path.basename(real)
        if is_sha256(blob_name) and Path(real).parent.name == "blobs":
            # An LFS blob is named by its sha256: trusted here, checked while streaming.
            sha = blob_name
            return FileEntry(
                rel, stat.st_size, sha, git_blob_oid(lfs_pointer(sha, stat.st_size)), True
            )
        key = (real, stat.st_size, stat.st_mtime_ns)
        digests = self._digests.get(key)
        if digests is None:
            digests = _hash_file(real)
            self._digests[key] = digests
        sha, oid = digests
        if stat.st_size >= LFS_MIN_SIZE:
            return FileEntry(
                rel, stat.st_size, sha, git_blob_oid(lfs_pointer(sha, stat.st_size)), True
            )
        # A blob the hub named by its git id keeps that id, so a corrupted copy fails the check.
        if is_commit(blob_name) and Path(real).parent.name == "blobs":
            oid = blob_name
        return FileEntry(rel, stat.st_size, sha, oid, False)

    def _listing(self, repo_id: str, commit: str) -> dict[str, FileEntry]:
        _, folder = self._repo_dir(repo_id)
        cached = self._listings.get((str(folder), commit))
        if cached is not None:
            return cached
        snapshot = folder / "snapshots" / commit
        if not is_commit(commit) or not snapshot.is_dir():
            raise RevisionNotFound(f"commit {commit} not found in {repo_id}")
        inside = str(folder) + os.sep
        entries: dict[str, FileEntry] = {}
        reals: dict[str, str] = {}
        for dirpath, dirnames, filenames in os.walk(snapshot):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, snapshot).replace(os.sep, "/")
                real = os.path.realpath(full)
                if not real.startswith(inside) or not os.path.isfile(real):
                    continue  # a link leaving the repository folder is not part of it
                entries[rel] = self._entry(folder, rel, real)
                reals[rel] = real
        listing = dict(sorted(entries.items()))
        self._real_paths[(str(folder), commit)] = reals
        self._listings[(str(folder), commit)] = listing
        return listing

    async def _listing_async(self, repo_id: str, commit: str) -> dict[str, FileEntry]:
        _, folder = self._repo_dir(repo_id)
        cached = self._listings.get((str(folder), commit))
        if cached is not None:  # a commit's listing never changes: no thread hop needed
            return cached
        return await anyio.to_thread.run_sync(self._listing, repo_id, commit)

    async def list_files(self, repo_id: str, commit: str) -> list[FileEntry]:
        return list((await self._listing_async(repo_id, commit)).values())

    async def file(self, repo_id: str, commit: str, path: str) -> FileEntry:
        listing = await self._listing_async(repo_id, commit)
        entry = listing.get(path)
        if entry is None:
            raise EntryNotFound(f"{path!r} not found in {repo_id}@{commit}", commit)
        return entry

    def blob_path(self, repo_id: str, commit: str, entry: FileEntry) -> str:
        """The real path of a listed file's bytes (inside the repository folder)."""
        return self._real_path(repo_id, commit, entry)

    def blob_on_disk(
        self, repo_id: str, commit: str, entry: FileEntry
    ) -> tuple[str, VerifiedBlobs] | None:
        """`BlobsOnDisk`: every file of a local store is on disk."""
        return self._real_path(repo_id, commit, entry), self.verified

    def _real_path(self, repo_id: str, commit: str, entry: FileEntry) -> str:
        _, folder = self._repo_dir(repo_id)
        known = self._real_paths.get((str(folder), commit), {}).get(entry.path)
        if known is not None:
            return known  # found when the commit was listed, inside the repository folder
        return os.path.realpath(folder / "snapshots" / commit / entry.path)

    async def open(
        self, repo_id: str, commit: str, entry: FileEntry, start: int, stop: int
    ) -> AsyncIterator[bytes]:
        real = self._real_path(repo_id, commit, entry)
        try:
            fd = os.open(real, os.O_RDONLY)
        except OSError as exc:
            raise UpstreamError(f"cannot open {entry.path}: {exc}") from exc
        try:
            with stream_slot():
                pos = start
                while pos < stop:
                    data = await anyio.to_thread.run_sync(
                        os.pread, fd, min(chunk_size(), stop - pos), pos
                    )
                    if not data:
                        raise UpstreamError(f"{entry.path}: blob shorter than its listed size")
                    pos += len(data)
                    yield data
        finally:
            os.close(fd)

    async def repo_info(self, repo_id: str, commit: str) -> dict[str, Any] | None:
        return None  # a folder of files, not a hub: no private or gated flags to read

    async def ready(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.R_OK | os.X_OK):
            raise UpstreamError(f"local store {self.root} is not a readable folder")

    async def aclose(self) -> None:
        return None
