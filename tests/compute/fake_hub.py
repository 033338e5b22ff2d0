"""A tiny Hugging Face-compatible server on a loopback port, for tests and the benchmark.

Serves `/api/models/{repo}/revision/{rev}`, `/api/models/{repo}/tree/{rev}` and
`/{repo}/resolve/{rev}/{path}` with Range support. A file is either real bytes or "virtual": a
prefix (the safetensors header) followed by zeros up to a declared size, so a benchmark can serve
a 100-shard, many-gigabyte model without allocating it. Counts the body bytes it sends.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from gate.hub.source import git_blob_oid, lfs_pointer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class VirtualFile:
    prefix: bytes
    size: int

    def read(self, start: int, stop: int) -> bytes:
        stop = min(stop, self.size)
        head = self.prefix[start:stop] if start < len(self.prefix) else b""
        return head + b"\0" * (stop - start - len(head))


@dataclass
class FakeRepo:
    files: dict[str, bytes | VirtualFile]
    private: bool = False
    gated: Any = False
    card_data: dict[str, Any] | None = None
    lfs_min: int | None = None
    """List real files of at least this many bytes as LFS files (sha256), as a local store
    lays them out; None: every real file is a plain git blob."""


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    sent_bytes: int = 0
    requests: list[str] = field(default_factory=list)
    auth_token: str | None = None
    ignore_range: bool = False
    latency: float = 0.0
    """Seconds each response waits, to stand in for a real network's round trip."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _size(f: bytes | VirtualFile) -> int:
    return f.size if isinstance(f, VirtualFile) else len(f)


def _tree_entry(path: str, f: bytes | VirtualFile, lfs_min: int | None = None) -> dict[str, Any]:
    """A `/tree` entry as the hub lists it: a virtual file as an LFS file (its digest stands in:
    the bytes are never all built), real bytes as a plain git blob (or as LFS from `lfs_min`)."""
    if isinstance(f, bytes) and lfs_min is not None and len(f) >= lfs_min:
        digest = hashlib.sha256(f).hexdigest()
        pointer = lfs_pointer(digest, len(f))
        return {
            "type": "file",
            "path": path,
            "size": len(f),
            "oid": git_blob_oid(pointer),
            "lfs": {"oid": digest, "size": len(f), "pointerSize": len(pointer)},
        }
    if isinstance(f, VirtualFile):
        digest = hashlib.sha256(f.prefix + str(f.size).encode()).hexdigest()
        pointer = lfs_pointer(digest, f.size)
        return {
            "type": "file",
            "path": path,
            "size": f.size,
            "oid": git_blob_oid(pointer),
            "lfs": {"oid": digest, "size": f.size, "pointerSize": len(pointer)},
        }
    return {"type": "file", "path": path, "size": len(f), "oid": git_blob_oid(f)}


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are separate writes: without this, Nagle plus delayed ACKs add 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                return
            with hub.lock:
                hub.sent_bytes += len(body)

        def _json(self, value: Any) -> None:
            self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

        def do_GET(self) -> None:
            raw = urlsplit(self.path).path
            if hub.latency:
                time.sleep(hub.latency)
            with hub.lock:
                hub.requests.append(self.path)
            if hub.auth_token and self.headers.get("Authorization") != f"Bearer {hub.auth_token}":
                self._send(401, b"unauthorized")
                return
            m = re.match(r"^/api/models/(.+)/(revision|tree)/([^/]+)$", raw)
            if m:
                repo = hub.repos.get(m.group(1))
                if repo is None:
                    self._send(404, b"no repo")
                    return
                if m.group(2) == "revision":
                    self._json(
                        {
                            "id": m.group(1),
                            "sha": COMMIT,
                            "private": repo.private,
                            "gated": repo.gated,
                            "cardData": repo.card_data,
                            "siblings": [{"rfilename": p} for p in repo.files],
                        }
                    )
                else:
                    self._json([_tree_entry(p, f, repo.lfs_min) for p, f in repo.files.items()])
                return
            m = re.match(r"^/(.+?/.+?)/resolve/([^/]+)/(.+)$", raw)
            if not m or m.group(1) not in hub.repos:
                self._send(404, b"not found")
                return
            repo = hub.repos[m.group(1)]
            path = unquote(m.group(3))
            if path not in repo.files:
                self._send(404, b"entry not found", {"X-Error-Code": "EntryNotFound"})
                return
            f = repo.files[path]
            size = _size(f)
            rng = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if rng and not hub.ignore_range:
                start = int(rng.group(1))
                stop = min(int(rng.group(2)) + 1 if rng.group(2) else size, size)
                data = f.read(start, stop) if isinstance(f, VirtualFile) else f[start:stop]
                headers = {"Content-Range": f"bytes {start}-{stop - 1}/{size}"}
                self._send(206, data, headers)
                return
            if isinstance(f, VirtualFile):
                # Stream a whole virtual file in chunks; a client that hangs up stops it.
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                pos = 0
                try:
                    while pos < size:
                        chunk = f.read(pos, min(pos + 65536, size))
                        self.wfile.write(chunk)
                        with hub.lock:
                            hub.sent_bytes += len(chunk)
                        pos += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                return
            self._send(200, f)

    return Handler


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops concurrent connects, which then retry after 1 s.
    request_queue_size = 128


@contextmanager
def serve(hub: FakeHub) -> Iterator[str]:
    """Run `hub` on 127.0.0.1 (random port); yields the endpoint URL."""
    server = _Server(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
