"""An upstream source: any Hugging Face-compatible server, metadata and bytes streamed through.

The gate talks to the upstream with its own credential (`--upstream-token`), never the
recipient's. Commits are immutable, so a commit's listing and the sha256 of its small files are
fetched once and remembered (bounded). Bytes are streamed with httpx in chunks; nothing is
buffered beyond one chunk. An upstream failure is an `UpstreamError`: the server answers 502
before the first byte, or cuts the response after it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from gate.errors import GateError, NotFoundError, UpstreamError
from gate.hub.http import hub_error
from gate.hub.source import (
    EntryNotFound,
    FileEntry,
    RepoNotFound,
    Resolved,
    RevisionNotFound,
    chunk_size,
    git_blob_oid,
    stream_slot,
)
from gate.names import is_commit

_MAX_CACHED = 256


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = f"upstream {self.base_url}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # httpx drops Authorization when a redirect leaves the origin (the hub redirects LFS
        # downloads to a CDN), so the gate's upstream token is never sent to a third party.
        self._client = client or httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self._listings: OrderedDict[tuple[str, str], dict[str, FileEntry]] = OrderedDict()
        self._small: OrderedDict[tuple[str, str, str], FileEntry] = OrderedDict()

    async def _get(self, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"upstream {self.base_url} unreachable: {exc}") from exc

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
        response = await self._get(url)
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
            response = await self._get(url, params=params)
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
        # The hub gives only the git blob id of a small file; fetch it once to learn its sha256,
        # checking the bytes against that id so a wrong body is not remembered.
        body = b"".join([chunk async for chunk in self.open(repo_id, commit, entry, 0, entry.size)])
        if git_blob_oid(body) != entry.git_oid:
            raise UpstreamError(f"upstream sent {path} with a git id other than its listing's")
        known = FileEntry(path, entry.size, hashlib.sha256(body).hexdigest(), entry.git_oid, False)
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
            with stream_slot():
                async with self._client.stream("GET", url, headers=headers) as response:
                    if response.status_code not in (200, 206):
                        await response.aread()
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
        response = await self._get(f"{self.base_url}/healthz")
        if response.status_code >= 500:
            raise UpstreamError(f"upstream {self.base_url} unhealthy: {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
