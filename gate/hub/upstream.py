"""An upstream source: any Hugging Face-compatible server, metadata and bytes streamed through.

The gate talks to the upstream with its own credential (`--upstream-token`), never the
recipient's. Commits are immutable, so a commit's listing and the sha256 of its small files are
fetched once and remembered (bounded). Bytes are streamed with httpx in chunks; nothing is
buffered beyond one chunk, whatever the file's size (a non-LFS file's sha256 is learnt by
hashing it as it streams). An upstream failure is an `UpstreamError`: the server answers 502
before the first byte, or cuts the response after it.

Bounded waits, so one slow repository cannot hold the gate: every metadata call has a total
deadline (`deadline`, not only a per-read timeout: an upstream dripping one byte a second is
cut off), and its answer a size cap; a stream has the deadline for its headers. At most
`per_repo` calls to one repository are in flight at once (metadata and streams together), so a
repository that hangs uses at most that share of the connection pool; a call that waits longer
than `pool_wait` for its turn fails with `UpstreamBusy` (503, retry later). When the client
goes away, the server cancels the handler and with it the upstream call (`gate.server.limits`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
import httpx

from gate.errors import GateError, NotFoundError, UpstreamBusy, UpstreamError
from gate.hub.http import hub_error
from gate.hub.source import (
    EntryNotFound,
    FileEntry,
    RepoNotFound,
    Resolved,
    RevisionNotFound,
    chunk_size,
    stream_slot,
)
from gate.names import is_commit

_MAX_CACHED = 256
MAX_METADATA_BYTES = 64 * 1024 * 1024
"""Largest metadata answer read (a tree page of a huge repository is a few MiB)."""
_INLINE_HASH = 64 * 1024


@dataclass
class _RepoSlots:
    """Calls in flight for one repository; removed when nobody uses it (bounded by requests)."""

    slots: anyio.Semaphore
    users: int = field(default=0)


def _as_upstream(error: GateError) -> UpstreamError:
    """What the gate's own client meets upstream is the upstream's failure, never the caller's
    (an upstream 404 on a listed file is not the recipient's missing file)."""
    return error if isinstance(error, UpstreamError) else UpstreamError(str(error))


class UpstreamSource:
    """A `ModelSource` over an HTTP hub (the Hugging Face Hub, a mirror, or another gate)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        deadline: float = 30.0,
        per_repo: int = 32,
        pool_wait: float = 10.0,
        max_connections: int = 200,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = f"upstream {self.base_url}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # httpx drops Authorization when a redirect leaves the origin (the hub redirects LFS
        # downloads to a CDN), so the gate's upstream token is never sent to a third party.
        self._client = client or httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0, pool=pool_wait),
            follow_redirects=True,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=min(50, max_connections)
            ),
        )
        self.deadline = deadline
        self.per_repo = per_repo
        self.pool_wait = pool_wait
        self._repos: dict[str, _RepoSlots] = {}
        self._listings: OrderedDict[tuple[str, str], dict[str, FileEntry]] = OrderedDict()
        self._small: OrderedDict[tuple[str, str, str], FileEntry] = OrderedDict()

    @asynccontextmanager
    async def _turn(self, repo_id: str) -> AsyncIterator[None]:
        """One of the `per_repo` slots of a repository, waited for at most `pool_wait`."""
        key = repo_id.lower()  # the hub matches names case-insensitively: so do the slots
        repo = self._repos.get(key)
        if repo is None:
            repo = self._repos[key] = _RepoSlots(anyio.Semaphore(self.per_repo))
        repo.users += 1
        try:
            try:
                with anyio.fail_after(self.pool_wait):
                    await repo.slots.acquire()
            except TimeoutError:
                raise UpstreamBusy(
                    f"upstream {self.base_url}: {self.per_repo} calls for {repo_id} already in "
                    "flight; try again later"
                ) from None
            try:
                yield
            finally:
                repo.slots.release()
        finally:
            repo.users -= 1
            if repo.users == 0:
                self._repos.pop(key, None)

    async def _get(self, url: str, repo_id: str | None, **kwargs: Any) -> httpx.Response:
        """A metadata GET, read whole within the deadline and the size cap."""
        async with AsyncExitStack() as stack:
            if repo_id is not None:
                await stack.enter_async_context(self._turn(repo_id))
            try:
                with anyio.fail_after(self.deadline):
                    return await self._read(url, **kwargs)
            except TimeoutError:
                raise UpstreamError(
                    f"upstream {self.base_url} did not answer within {self.deadline:g} s"
                ) from None
            except httpx.HTTPError as exc:
                raise UpstreamError(f"upstream {self.base_url} unreachable: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover (mypy: the stack may swallow)

    async def _read(self, url: str, **kwargs: Any) -> httpx.Response:
        async with self._client.stream("GET", url, **kwargs) as response:
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > MAX_METADATA_BYTES:
                    raise UpstreamError(
                        f"upstream {self.base_url} sent over {MAX_METADATA_BYTES} bytes of metadata"
                    )
        # A response with the body in hand, so `.json()` and `.links` work as usual.
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=bytes(body),
            request=response.request,
        )

    async def resolve(self, repo_id: str, revision: str) -> Resolved:
        data = await self._info(repo_id, revision)
        try:
            canonical, commit = str(data["id"]), str(data["sha"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(f"upstream sent unusable repository info for {repo_id}") from exc
        if not is_commit(commit):
            raise UpstreamError(f"upstream sent a malformed commit {commit!r} for {repo_id}")
        return Resolved(canonical, commit, revision)

    async def _info(self, repo_id: str, revision: str) -> dict[str, Any]:
        """`/api/models/{repo}/revision/{rev}`: the hub's info on a repository at a revision."""
        url = f"{self.base_url}/api/models/{repo_id}/revision/{quote(revision, safe='')}"
        response = await self._get(url, repo_id)
        error = hub_error(response, f"upstream {repo_id}@{revision}")
        if isinstance(error, RevisionNotFound):
            raise RevisionNotFound(f"revision {revision!r} not found in {repo_id}")
        if isinstance(error, NotFoundError):
            raise RepoNotFound(f"repository {repo_id!r} not found")
        if error is not None:
            raise _as_upstream(error)
        try:
            data = response.json()
        except ValueError as exc:
            raise UpstreamError(f"upstream sent unusable repository info for {repo_id}") from exc
        if not isinstance(data, dict):
            raise UpstreamError(f"upstream sent unusable repository info for {repo_id}")
        return data

    async def repo_info(self, repo_id: str, commit: str) -> dict[str, Any] | None:
        return await self._info(repo_id, commit)

    async def _listing(self, repo_id: str, commit: str) -> dict[str, FileEntry]:
        key = (repo_id, commit)
        cached = self._listings.get(key)
        if cached is not None:
            self._listings.move_to_end(key)
            return cached
        url: str | None = f"{self.base_url}/api/models/{repo_id}/tree/{commit}"
        params: dict[str, str] | None = {"recursive": "true"}
        entries: dict[str, FileEntry] = {}
        while url is not None:
            response = await self._get(url, repo_id, params=params)
            error = hub_error(response, f"upstream tree of {repo_id}")
            if isinstance(error, NotFoundError):
                raise RevisionNotFound(f"commit {commit} not found in {repo_id}")
            if error is not None:
                raise _as_upstream(error)
            try:
                for item in response.json():
                    if item.get("type") != "file":
                        continue
                    lfs = item.get("lfs")
                    entries[item["path"]] = FileEntry(
                        path=str(item["path"]),
                        size=int(item["size"]),
                        sha256=str(lfs["oid"]) if lfs else None,
                        git_oid=str(item["oid"]),
                        lfs=bool(lfs),
                    )
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise UpstreamError(f"upstream sent an unusable tree for {repo_id}") from exc
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries its own query
        listing = dict(sorted(entries.items()))
        self._listings[key] = listing
        if len(self._listings) > _MAX_CACHED:
            self._listings.popitem(last=False)
        return listing

    async def list_files(self, repo_id: str, commit: str) -> list[FileEntry]:
        return list((await self._listing(repo_id, commit)).values())

    async def file(self, repo_id: str, commit: str, path: str) -> FileEntry:
        entry = (await self._listing(repo_id, commit)).get(path)
        if entry is None:
            raise EntryNotFound(f"{path!r} not found in {repo_id}@{commit}", commit)
        if entry.sha256 is not None:
            return entry
        key = (repo_id, commit, path)
        known = self._small.get(key)
        if known is not None:
            return known
        # The hub gives only the git blob id of a non-LFS file; stream it once to learn its
        # sha256 (in constant memory, whatever its size), checking the bytes against that id
        # so a wrong body is not remembered.
        sha256 = hashlib.sha256()
        git = hashlib.sha1(f"blob {entry.size}\0".encode(), usedforsecurity=False)

        def update(chunk: bytes) -> None:
            sha256.update(chunk)
            git.update(chunk)

        async for chunk in self.open(repo_id, commit, entry, 0, entry.size):
            if len(chunk) < _INLINE_HASH:
                update(chunk)
            else:
                await anyio.to_thread.run_sync(update, chunk)
        if git.hexdigest() != entry.git_oid:
            raise UpstreamError(f"upstream sent {path} with a git id other than its listing's")
        known = FileEntry(path, entry.size, sha256.hexdigest(), entry.git_oid, False)
        self._small[key] = known
        if len(self._small) > _MAX_CACHED * 16:
            self._small.popitem(last=False)
        return known

    async def open(
        self, repo_id: str, commit: str, entry: FileEntry, start: int, stop: int
    ) -> AsyncIterator[bytes]:
        if start >= stop:
            return
        url = f"{self.base_url}/{repo_id}/resolve/{commit}/{quote(entry.path)}"
        headers = {"Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
        received = 0
        try:
            async with AsyncExitStack() as stack:
                stack.enter_context(stream_slot())
                await stack.enter_async_context(self._turn(repo_id))
                try:
                    with anyio.fail_after(self.deadline):  # until the headers, not the body
                        response = await stack.enter_async_context(
                            self._client.stream("GET", url, headers=headers)
                        )
                except TimeoutError:
                    raise UpstreamError(
                        f"upstream {self.base_url} did not start sending {entry.path} "
                        f"within {self.deadline:g} s"
                    ) from None
                if response.status_code not in (200, 206):
                    # Only the headers say why (the body, of any size, is not read).
                    error = hub_error(response, f"upstream refused {entry.path}")
                    raise _as_upstream(error or UpstreamError(f"upstream sent {entry.path}"))
                skip = start if response.status_code == 200 else 0
                if response.status_code == 206:
                    expected = f"bytes {start}-{stop - 1}/"
                    if not response.headers.get("Content-Range", "").startswith(expected):
                        raise UpstreamError(f"upstream sent another range of {entry.path}")
                async for chunk in response.aiter_bytes(chunk_size()):
                    if skip:  # an upstream that ignored Range: drop what precedes `start`
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                    chunk = chunk[: stop - start - received]
                    if chunk:
                        received += len(chunk)
                        yield chunk
                    if received >= stop - start:
                        break
        except httpx.HTTPError as exc:
            raise UpstreamError(f"upstream died while sending {entry.path}: {exc}") from exc
        if received != stop - start:
            raise UpstreamError(f"upstream sent {received} of {stop - start} bytes of {entry.path}")

    async def ready(self) -> None:
        response = await self._get(f"{self.base_url}/healthz", None)
        if response.status_code >= 500:
            raise UpstreamError(f"upstream {self.base_url} unhealthy: {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
