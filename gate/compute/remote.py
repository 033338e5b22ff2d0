"""Read a model's metadata from any Hugging Face-compatible server without its weights.

Files are listed with `/api/models/{repo}/tree/{rev}?recursive=true` (falling back to the
`siblings` of `/api/models/{repo}/revision/{rev}`), small files fetched from
`/{repo}/resolve/{rev}/{path}`, and each safetensors header read with one `Range: bytes=0-N`
request on that same URL (a second only when the header is larger than the first read), shards
concurrently. The revision is percent-encoded as the hub expects (`refs%2Fpr%2F1`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from gate.compute.safetensors_header import (
    MAX_HEADER_BYTES,
    SafetensorsHeader,
    declared_header_length,
    parse_header,
)
from gate.errors import AuthError, NotFoundError, UpstreamError

INITIAL_READ = 64 * 1024
"""First range read: enough for most headers (a 7B model's is about 25 kB) in one request."""
MIN_READ = 4096
MAX_TEXT_BYTES = 10_000_000
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True, slots=True)
class RepoFile:
    path: str
    size: int | None = None


class HubReader:
    """Header-only reads from one endpoint; `bytes_read` counts body bytes consumed."""

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        *,
        client: httpx.Client | None = None,
        max_workers: int = 16,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=True)
        self._headers = headers
        self._max_workers = max_workers
        self._lock = threading.Lock()
        self.bytes_read = 0
        self.requests = 0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HubReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, n: int) -> None:
        with self._lock:
            self.bytes_read += n
            self.requests += 1

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise AuthError(f"{what}: refused by {self.endpoint} (HTTP {response.status_code})")
        if response.status_code == 404:
            raise NotFoundError(f"{what}: not found on {self.endpoint}")
        if response.status_code >= 400:
            raise UpstreamError(f"{what}: HTTP {response.status_code} from {self.endpoint}")

    def _get_json(self, url: str, what: str) -> Any:
        try:
            response = self._client.get(url, headers=self._headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{what}: {exc}") from exc
        self._check(response, what)
        self._count(len(response.content))
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamError(f"{what}: response is not JSON") from exc

    def resolve_url(self, repo: str, revision: str, path: str) -> str:
        return f"{self.endpoint}/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"

    def repo_info(self, repo: str, revision: str) -> dict[str, Any]:
        url = f"{self.endpoint}/api/models/{repo}/revision/{quote(revision, safe='')}"
        info = self._get_json(url, f"{repo}@{revision}")
        if not isinstance(info, dict):
            raise UpstreamError(f"{repo}@{revision}: repository info is not an object")
        return info

    def list_files(
        self, repo: str, revision: str, info: dict[str, Any] | None = None
    ) -> list[RepoFile]:
        url = f"{self.endpoint}/api/models/{repo}/tree/{quote(revision, safe='')}?recursive=true"
        try:
            entries = self._get_json(url, f"{repo}@{revision} file list")
        except NotFoundError:
            entries = None
        files: list[RepoFile] = []
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, dict) and entry.get("type") == "file":
                    size = entry.get("size")
                    lfs = entry.get("lfs")
                    if isinstance(lfs, dict) and isinstance(lfs.get("size"), int):
                        size = lfs["size"]
                    files.append(
                        RepoFile(str(entry["path"]), size if isinstance(size, int) else None)
                    )
            return files
        siblings = (info or self.repo_info(repo, revision)).get("siblings") or []
        return [
            RepoFile(str(s["rfilename"]), s.get("size") if isinstance(s.get("size"), int) else None)
            for s in siblings
            if isinstance(s, dict) and "rfilename" in s
        ]

    def fetch_text(self, repo: str, revision: str, path: str) -> str | None:
        """A small text file, or None when it does not exist."""
        what = f"{repo}/{path}"
        try:
            with self._client.stream(
                "GET", self.resolve_url(repo, revision, path), headers=self._headers
            ) as response:
                if response.status_code == 404:
                    return None
                self._check(response, what)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_TEXT_BYTES:
                        raise UpstreamError(f"{what}: larger than {MAX_TEXT_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{what}: {exc}") from exc
        self._count(len(body))
        return body.decode("utf-8", errors="replace")

    def _range(self, url: str, start: int, stop: int, what: str) -> tuple[bytes, int | None]:
        """Bytes [start, stop) (fewer at end of file) and the file size when the server says."""
        headers = {**self._headers, "Range": f"bytes={start}-{stop - 1}"}
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self._check(response, what)
                size: int | None = None
                match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
                if response.status_code == 206 and match and match.group(3) != "*":
                    size = int(match.group(3))
                elif response.status_code == 200:
                    # The server ignored Range and sends the whole file: read what is needed
                    # and hang up, so a header read never becomes a weight download.
                    length = response.headers.get("content-length")
                    size = int(length) if length and length.isdigit() else None
                    if start:
                        raise UpstreamError(f"{what}: server does not support Range requests")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) >= stop - start:
                        break
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{what}: {exc}") from exc
        data = bytes(body[: stop - start])
        self._count(len(data))
        return data, size

    def read_header(
        self,
        repo: str,
        revision: str,
        path: str,
        size: int | None = None,
        initial: int = INITIAL_READ,
    ) -> SafetensorsHeader:
        url = self.resolve_url(repo, revision, path)
        source = f"{repo}/{path}"
        data, served_size = self._range(url, 0, initial, source)
        file_size = served_size if served_size is not None else size
        length = declared_header_length(data, source, file_size)
        if len(data) < 8 + length <= 8 + MAX_HEADER_BYTES:
            more, _ = self._range(url, len(data), 8 + length, source)
            data += more
        return parse_header(data, source, file_size)

    def read_headers(
        self, repo: str, revision: str, files: Sequence[RepoFile]
    ) -> list[SafetensorsHeader]:
        """Headers of several shards, concurrently, in the order given.

        The first shard is read alone; its header size sizes the first read of the others
        (shards of one model have headers of similar size), so each costs about its header
        plus a little, in one request.
        """
        if not files:
            return []
        first = self.read_header(repo, revision, files[0].path, files[0].size)
        if len(files) == 1:
            return [first]
        initial = min(INITIAL_READ, max(MIN_READ, (8 + first.header_length) * 5 // 4))
        workers = min(self._max_workers, len(files) - 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(self.read_header, repo, revision, f.path, f.size, initial)
                for f in files[1:]
            ]
            return [first, *(f.result() for f in futures)]
