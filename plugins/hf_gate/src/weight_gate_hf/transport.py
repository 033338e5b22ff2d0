"""The httpx2 transport that checks receipts and hashes parameter files while they stream.

It sits under the `huggingface_hub` client (see `weight_gate_hf.hook`) and sees every request:

- requests to the gate's origin get the recipient's bearer token (never other hosts: a redirect
  to a CDN must not carry the gate credential);
- a GET of a parameter file's `/resolve/` URL, on any host, must come back with a valid
  `X-Gate-Receipt` when receipts are required: signed by a trusted key, for this repository,
  commit (`X-Repo-Commit`), path and recipient, not expired, and with the size the response
  announces. A HEAD with a receipt is checked the same way (and against the announced sha256,
  which names the blob the client will store); a HEAD without one passes, since it carries no
  parameter byte. A refusal (4xx/5xx) passes through untouched so the client shows the gate's
  reason; a redirect is refused (the gate never redirects, so a redirect means the bytes would
  come from somewhere that signed nothing);
- a GET body is hashed as it streams and the last chunk is held back until the sha256 and length
  match the receipt, so the client never holds the complete file unless it verified. The receipt
  is then kept beside the cache for `verify_cache` and `load_verified`.

Failures raise `GateVerificationError`, which the client neither retries nor answers with a
cached copy; it deletes its temporary `.incomplete` file, so nothing stays in the cache.

A network error mid-body is re-raised unchanged (the client resumes with a Range request); the
hash state is kept so the resumed part is hashed on top of the bytes already received. A range
that ends before the end of the file (the client reading a safetensors header) cannot make a
file and passes unverified.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2

from weight_gate_hf.config import PluginConfig
from weight_gate_hf.errors import GateVerificationError
from weight_gate_hf.receipt_store import receipt_path, save_receipt
from weight_gate_hf.receipts import RECEIPT_HEADER, ReceiptClaims, decode_receipt_header
from weight_gate_hf.urls import COMMIT_RE, FileRef, parse_resolve_path, repo_folder_name
from weight_gate_hf.verify import check_receipt

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_REMEMBERED = 1024

_Key = tuple[str, str, str, str]  # repo type, repo id, revision as asked, path


_CHECKPOINT = 1024 * 1024
_CHECKPOINTS_KEPT = 64


@dataclass
class _Partial:
    """Hash states of a body cut by a network error, by offset, for the client's resume.

    The client resumes from what it has written, not from what arrived: it writes in large
    chunks (10 MiB) and loses the part of a chunk it was still collecting. So the hash state is
    kept at every MiB boundary of the last received stretch, and at the very end.
    """

    points: dict[int, Any]


def _normalize_etag(value: str | None) -> str | None:
    if value is None:
        return None
    return value.removeprefix("W/").strip('"')


class _Memory:
    """Small bounded maps shared by the client's download threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.heads: OrderedDict[_Key, tuple[str, str]] = OrderedDict()
        self.partials: OrderedDict[tuple[_Key, str, str], _Partial] = OrderedDict()

    @staticmethod
    def _put(table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > _MAX_REMEMBERED:
            table.popitem(last=False)

    def remember_head(self, key: _Key, commit: str, sha256: str) -> None:
        with self.lock:
            self._put(self.heads, key, (commit, sha256))

    def take_head(self, key: _Key) -> tuple[str, str] | None:
        with self.lock:
            return self.heads.pop(key, None)

    def keep_partial(self, key: tuple[_Key, str, str], partial: _Partial) -> None:
        with self.lock:
            self._put(self.partials, key, partial)

    def take_partial(self, key: tuple[_Key, str, str]) -> _Partial | None:
        with self.lock:
            return self.partials.pop(key, None)


class GateTransport(httpx2.BaseTransport):
    """Wraps the real transport; see the module docstring for what it checks."""

    def __init__(self, inner: httpx2.BaseTransport, config: PluginConfig) -> None:
        self.inner = inner
        self.config = config
        self.memory = _Memory()

    def close(self) -> None:
        self.inner.close()

    def _is_gate(self, url: httpx2.URL) -> bool:
        return (url.scheme, url.host, url.port) == self.config.origin

    def _file_ref(self, url: httpx2.URL) -> FileRef | None:
        raw = url.raw_path.decode("ascii", "replace").split("?", 1)[0]
        base = self.config.base_path if self._is_gate(url) else ""
        try:
            return parse_resolve_path(raw, base)
        except UnicodeDecodeError as exc:
            raise GateVerificationError(f"{url}: undecodable file URL") from exc

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._is_gate(request.url) and self.config.token:
            request.headers["Authorization"] = f"Bearer {self.config.token}"
        ref = self._file_ref(request.url) if request.method in ("GET", "HEAD") else None
        if ref is None or not self.config.is_parameters(ref.path):
            return self.inner.handle_request(request)
        response = self.inner.handle_request(request)
        try:
            return self._check(request, ref, response)
        except BaseException:
            response.close()
            raise

    def _check(
        self, request: httpx2.Request, ref: FileRef, response: httpx2.Response
    ) -> httpx2.Response:
        status = response.status_code
        label = f"{ref.repo_id}@{ref.revision} {ref.path}"
        if status >= 400:
            return response  # the gate's refusal: the client shows its reason
        required = self.config.require_receipts
        if 300 <= status < 400:
            if required:
                raise GateVerificationError(
                    f"{label}: redirected to {response.headers.get('Location')!r}; parameter"
                    " files must come from the gate itself, with a receipt"
                )
            return response
        span = _content_range(response) if status == 206 else None
        if span is not None and span[1] < span[2]:
            return response  # a slice that stops before the end of the file cannot make a file
        header = response.headers.get(RECEIPT_HEADER)
        if header is None:
            # A HEAD carries no parameter byte: the gate answers a refused file's HEAD with 200
            # (so `get_safetensors_metadata` can read the header) and refuses the GET with its
            # reason. The bytes are what needs the receipt.
            if required and request.method == "GET":
                raise GateVerificationError(
                    f"{label}: no gate receipt ({RECEIPT_HEADER}) with this parameter file;"
                    " refused (is the endpoint the gate, and does it sign receipts?)"
                )
            return response
        commit = response.headers.get("X-Repo-Commit", "")
        if not COMMIT_RE.match(commit):
            raise GateVerificationError(f"{label}: response has no valid X-Repo-Commit")
        if COMMIT_RE.match(ref.revision) and ref.revision != commit:
            raise GateVerificationError(f"{label}: served commit {commit}, asked {ref.revision}")
        try:
            envelope = decode_receipt_header(header)
        except GateVerificationError as exc:
            raise GateVerificationError(f"{label}: {exc}") from exc
        claims = _check_claims(self.config, envelope, label, ref, commit)
        key: _Key = (ref.repo_type, ref.repo_id, ref.revision, ref.path)
        target = receipt_path(self.config.cache_dir, ref.repo_type, ref.repo_id, commit, ref.path)
        if request.method == "HEAD":
            _check_head(response, claims, label)
            self.memory.remember_head(key, commit, claims.sha256)
            # Kept now too: when the blob is already cached (same weights in another commit)
            # the client links it without a GET, and the snapshot entry still needs its receipt.
            _save(target, envelope, str(request.url), label)
            return response
        seen = self.memory.take_head(key)
        if seen is not None and seen != (commit, claims.sha256):
            raise GateVerificationError(
                f"{label}: the file changed between HEAD ({seen[0][:12]}) and GET"
                f" ({commit[:12]}); refused, retry the download"
            )
        start = 0
        if span is not None:
            start, total = span[0], span[2]
            if total != claims.size:
                raise GateVerificationError(f"{label}: size {total} != receipt's {claims.size}")
        elif (length := response.headers.get("Content-Length")) is not None and int(
            length
        ) != claims.size:
            raise GateVerificationError(f"{label}: size {length} != receipt's {claims.size}")
        resume_key = (key, commit, claims.sha256)
        if start == 0:
            hasher: Any = hashlib.sha256()
        else:
            found = self.memory.take_partial(resume_key)
            hasher = found.points.get(start) if found is not None else None
            if hasher is None:
                raise GateVerificationError(
                    f"{label}: cannot verify a download resumed at byte {start} without the"
                    " bytes before it; retry the download"
                )
        snapshot_entry = (
            self.config.cache_dir
            / repo_folder_name(ref.repo_id, ref.repo_type)
            / "snapshots"
            / commit
            / ref.path
        )
        stream = _VerifyingStream(
            response.stream,  # type: ignore[arg-type]
            claims=claims,
            label=label,
            hasher=hasher,
            start=start,
            on_cut=lambda p: self.memory.keep_partial(resume_key, p),
            on_verified=lambda: _save(target, envelope, str(request.url), label),
            on_failed=lambda: _forget(target, snapshot_entry),
        )
        return httpx2.Response(
            status_code=status,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )


def _content_range(response: httpx2.Response) -> tuple[int, int, int] | None:
    """(first, one past last, total) of a 206 response."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match is None:
        raise GateVerificationError(f"{response.request.url}: 206 without a valid Content-Range")
    first, last, total = (int(g) for g in match.groups())
    return first, last + 1, total


def _check_claims(
    config: PluginConfig, envelope: dict[str, Any], label: str, ref: FileRef, commit: str
) -> ReceiptClaims:
    return check_receipt(
        envelope,
        config.keys(),
        where=label,
        repo_id=ref.repo_id,
        commit=commit,
        path=ref.path,
        recipient_id=config.recipient_id(),
        now=datetime.now(UTC),
    )


def _check_head(response: httpx2.Response, claims: ReceiptClaims, label: str) -> None:
    size = response.headers.get("X-Linked-Size") or response.headers.get("Content-Length")
    if size is None or not size.isdigit() or int(size) != claims.size:
        raise GateVerificationError(f"{label}: announced size {size} != receipt's {claims.size}")
    etag = _normalize_etag(response.headers.get("X-Linked-Etag") or response.headers.get("ETag"))
    # For LFS files the etag is the sha256 and names the blob the client will store; a small
    # non-LFS file's etag is its git blob id, checked through the streamed sha256 instead.
    if etag is not None and _SHA256.match(etag) and etag != claims.sha256:
        raise GateVerificationError(
            f"{label}: announced sha256 {etag} != receipt's {claims.sha256}"
        )


def _save(target: Any, envelope: dict[str, Any], url: str, label: str) -> None:
    try:
        save_receipt(target, envelope, url)
    except OSError as exc:
        # No receipt kept means a file that could not be re-checked later: refuse it now.
        raise GateVerificationError(f"{label}: cannot keep the receipt at {target}: {exc}") from exc


def _forget(target: Any, snapshot_entry: Any) -> None:
    """After a failed body: drop the receipt kept at HEAD unless the cache already has the file."""
    if not snapshot_entry.exists():
        target.unlink(missing_ok=True)


class _StreamHasher:
    """sha256 of a body, with the hash state kept at every MiB boundary (for resumes).

    Hashing runs inline, in the thread reading the socket. A worker thread (hashlib releases
    the GIL) was measured slower on the 2-core reference machine, where the gate and the client
    share the cores: the queue hand-off cost more than the overlap won.
    """

    def __init__(self, hasher: Any, start: int) -> None:
        self.hasher = hasher
        self.length = start
        self.checkpoints: deque[tuple[int, Any]] = deque(maxlen=_CHECKPOINTS_KEPT)

    def feed(self, chunk: bytes) -> None:
        data = memoryview(chunk)
        while data:
            boundary = (self.length // _CHECKPOINT + 1) * _CHECKPOINT
            take = min(len(data), boundary - self.length)
            self.hasher.update(data[:take])
            self.length += take
            data = data[take:]
            if self.length == boundary:
                self.checkpoints.append((boundary, self.hasher.copy()))


class _VerifyingStream(httpx2.SyncByteStream):
    """Hashes a body as it streams; holds back the last chunk until the digest matches."""

    def __init__(
        self,
        inner: httpx2.SyncByteStream,
        *,
        claims: ReceiptClaims,
        label: str,
        hasher: Any,
        start: int,
        on_cut: Any,
        on_verified: Any,
        on_failed: Any,
    ) -> None:
        self.inner = inner
        self.claims = claims
        self.label = label
        self.hasher = hasher
        self.start = start
        self.on_cut = on_cut
        self.on_verified = on_verified
        self.on_failed = on_failed

    def __iter__(self) -> Iterator[bytes]:
        size = self.claims.size
        received = self.start
        held: bytes | None = None
        worker = _StreamHasher(self.hasher, self.start)
        try:
            for chunk in self.inner:
                if not chunk:
                    continue
                received += len(chunk)
                if received > size:
                    self._fail(f"more than the {size} bytes the receipt vouches for")
                worker.feed(chunk)
                if held is not None:
                    yield held
                held = chunk
        except GateVerificationError:
            raise
        except Exception as exc:
            # A network failure: hand over what arrived and keep the hash states, so the
            # client's resumed request (a Range from where it stopped writing) is hashed on
            # top of the bytes before it.
            points = dict(worker.checkpoints)
            points[worker.length] = worker.hasher.copy()
            self.on_cut(_Partial(points))
            if held is not None:
                yield held
            raise exc
        if received != size:
            self._fail(f"got {received} bytes, the receipt vouches for {size}")
        digest = worker.hasher.hexdigest()
        if digest != self.claims.sha256:
            self._fail(f"sha256 {digest} != receipt's {self.claims.sha256} (tampered?)")
        self.on_verified()
        if held is not None:
            yield held

    def _fail(self, problem: str) -> None:
        self.on_failed()
        raise GateVerificationError(f"{self.label}: {problem}; the file was not kept")

    def close(self) -> None:
        self.inner.close()
