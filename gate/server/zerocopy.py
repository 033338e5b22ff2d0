"""Sending a verified local blob with `os.sendfile`: no copy through Python, no hashing.

uvicorn (0.3x to 0.5x, httptools or h11, asyncio or uvloop) implements neither the ASGI
`zerocopysend` nor the `pathsend` extension, and uvloop has no `loop.sendfile`. So the response
writes its headers through ASGI as usual, then, once they have left the transport's buffer, sends
the body with `os.sendfile` straight to the connection's socket in a worker thread (one blocking
loop per download, waiting with `poll` when the socket is full), and finally tells uvicorn the
body is complete. The uvicorn request cycle is found through the ASGI `receive` callable, which
Starlette and FastAPI pass through unwrapped; anywhere else (another server, the test client)
the response falls back to the ordinary hashed stream it was given.

Before each sendfile call the file's identity is compared with the verified one: a blob
replaced or written to while it is being sent is cut off before its last byte (the client keeps
an incomplete file it does not cache) and hashed again on its next download.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gate.hub.verified import Identity, identity_of

_PIECE = 16 * 1024 * 1024
"""Bytes per sendfile call between identity checks."""
_STALL_SECONDS = 60.0
"""A client that takes nothing for this long is dropped (frees the worker thread)."""
_LIMITER = anyio.CapacityLimiter(256)
"""Threads that may sit in a sendfile loop at once (separate from the records' and anyio's)."""


SMALL = 64 * 1024
"""Ranges up to this size are read on the event loop and sent as one body: a page-cache read
of that size costs less than handing the socket to a thread."""


_SMALL_KEPT_BYTES = 64 * 1024 * 1024
"""Bytes of small verified blobs kept in memory (config files, tokenizers, small shards)."""
_small_kept: OrderedDict[str, tuple[Identity, bytes]] = OrderedDict()
_small_kept_size = 0


def read_small(path: str, identity: Identity, start: int, stop: int) -> bytes | None:
    """Bytes [start, stop) of a verified blob, or None when its identity is not `identity`.

    A whole small blob is kept in memory with the identity it was read under, and answered
    from there while the caller's fresh stat shows that identity (any write through the
    filesystem changes it): an open, a stat, a read and a close per request cost more than
    the rest of a config file's answer."""
    global _small_kept_size
    kept = _small_kept.get(path)
    if kept is not None and kept[0] == identity:
        data = kept[1][start:stop]
        return data if len(data) == stop - start else None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if identity_of(os.fstat(fd)) != identity:
            return None
        whole = identity[2] <= SMALL
        data = os.pread(fd, identity[2] if whole else stop - start, 0 if whole else start)
    finally:
        os.close(fd)
    if whole and len(data) == identity[2]:
        previous = _small_kept.pop(path, None)
        _small_kept_size += len(data) - (len(previous[1]) if previous else 0)
        _small_kept[path] = (identity, data)
        while _small_kept_size > _SMALL_KEPT_BYTES:
            _small_kept_size -= len(_small_kept.popitem(last=False)[1][1])
        data = data[start:stop]
    return data if len(data) == stop - start else None


class BlobChanged(OSError):
    """The blob's identity changed while it was being sent."""


def uvicorn_cycle(receive: Receive) -> Any | None:
    """uvicorn's request cycle behind `receive`, when it has what this module relies on.

    Middlewares that wrap `receive` (the request limits) name the callable they wrap
    `__wrapped__`; without following it, every download fell back to the hashed stream."""
    for _ in range(8):
        inner = getattr(receive, "__wrapped__", None)
        if inner is None:
            break
        receive = inner
    cycle = getattr(receive, "__self__", None)
    if cycle is None or not type(cycle).__module__.startswith("uvicorn.protocols.http."):
        return None
    needed = ("transport", "expected_content_length", "disconnected", "response_complete")
    if not all(hasattr(cycle, name) for name in needed):
        return None
    if not isinstance(cycle.expected_content_length, int):
        return None
    return cycle


def _send_range(out_fd: int, in_fd: int, start: int, count: int, identity: Identity) -> int:
    """Send `count` bytes of `in_fd` from `start` to the socket `out_fd`.

    The socket is made blocking for the duration (with a send timeout, so a client that takes
    nothing frees the thread): each call then moves a whole piece in the kernel, with no poll
    wake-up per socket buffer. The event loop does not write to the socket meanwhile; it only
    reads, and only when the socket is readable, so blocking mode does not stall it.
    """
    was_blocking = os.get_blocking(out_fd)
    os.set_blocking(out_fd, True)
    old_timeout = _set_send_timeout(out_fd, 1.0)
    _cork(out_fd, True)
    try:
        sent = 0
        last_progress = time.monotonic()
        while sent < count:
            if identity_of(os.fstat(in_fd)) != identity:
                raise BlobChanged("blob changed while it was being sent")
            try:
                n = os.sendfile(out_fd, in_fd, start + sent, min(count - sent, _PIECE))
            except BlockingIOError:  # the send timeout passed with nothing taken
                if time.monotonic() - last_progress > _STALL_SECONDS:
                    raise TimeoutError("client took no bytes for 60 s") from None
                continue
            if n == 0:
                raise BlobChanged("blob shorter than its listed size")
            sent += n
            last_progress = time.monotonic()
        return sent
    finally:
        _cork(out_fd, False)
        _set_send_timeout(out_fd, None, old_timeout)
        os.set_blocking(out_fd, was_blocking)


def _cork(fd: int, on: bool) -> None:
    """TCP_CORK on the connection while sendfile runs (nginx's `tcp_nopush`): uvicorn sets
    TCP_NODELAY, which sent each piece's tail as a short segment; corked, the kernel sends full
    segments only (a single download went from 0.7x nginx to 1.0x). Uncorking flushes the rest.
    """
    sock = socket.socket(fileno=fd)
    try:
        with contextlib.suppress(OSError):  # not TCP (a test's socket pair): nothing to do
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1 if on else 0)
    finally:
        sock.detach()


_TIMEVAL = struct.Struct("@ll")


def _set_send_timeout(fd: int, seconds: float | None, raw: bytes | None = None) -> bytes:
    """Set SO_SNDTIMEO on `fd` (or put back `raw`); returns the previous raw value."""
    sock = socket.socket(fileno=fd)
    try:
        old = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _TIMEVAL.size)
        if raw is None:
            assert seconds is not None
            raw = _TIMEVAL.pack(int(seconds), int((seconds % 1) * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, raw)
    finally:
        sock.detach()  # the descriptor stays open: it is the caller's
    return old


class SendfileResponse(Response):
    """Headers through ASGI, body by `os.sendfile` from a verified blob; otherwise `fallback`."""

    def __init__(
        self,
        path: str,
        identity: Identity,
        byte_range: tuple[int, int],
        status_code: int,
        headers: dict[str, str],
        *,
        fallback: Callable[[], Response],
        on_bytes: Callable[[int], None],
        on_changed: Callable[[str], Awaitable[None]],
    ) -> None:
        super().__init__(None, status_code, headers, media_type="application/octet-stream")
        self.path = path
        self.identity = identity
        self.byte_range = byte_range
        self.fallback = fallback
        self.on_bytes = on_bytes
        self.on_changed = on_changed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = uvicorn_cycle(receive)
        sock = None if cycle is None else cycle.transport.get_extra_info("socket")
        if cycle is None or sock is None:
            await self.fallback()(scope, receive, send)
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            await self.fallback()(scope, receive, send)
            return
        try:
            if identity_of(os.fstat(fd)) != self.identity:
                await self.fallback()(scope, receive, send)
                return
            # Our own descriptor of the connection's socket: when the client goes away, uvicorn
            # closes its descriptor and the number may be reused for another connection at
            # once; sendfile on ours can only ever reach this client (or fail).
            try:
                out_fd = os.dup(sock.fileno())
            except OSError:
                return  # the connection is already closed
            try:
                await self._send(cycle, out_fd, fd, send)
            finally:
                os.close(out_fd)
        finally:
            os.close(fd)

    async def _send(self, cycle: Any, out_fd: int, fd: int, send: Send) -> None:
        start, stop = self.byte_range
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        transport = cycle.transport
        # The headers must be on the wire before the body goes around the transport.
        while transport.get_write_buffer_size() and not cycle.disconnected:
            await asyncio.sleep(0.001)
        if cycle.disconnected:
            return
        try:
            sent = await anyio.to_thread.run_sync(
                _send_range, out_fd, fd, start, stop - start, self.identity, limiter=_LIMITER
            )
        except BlobChanged as exc:
            transport.close()
            await self.on_changed(str(exc))
            return
        except OSError:
            transport.close()  # the client went away or stalled; nothing more to send
            await asyncio.sleep(0)
            return
        self.on_bytes(sent)
        # Tell uvicorn the body went out, so it completes the response and keeps the
        # connection alive as usual.
        cycle.expected_content_length -= sent
        await send({"type": "http.response.body", "body": b"", "more_body": False})
