"""Bounded work per request: header and body caps, JSON depth, rate limits, and cancellation.

`RequestLimits` is a pure ASGI middleware in front of every route. It refuses request heads
larger than `max_head_bytes` (431) and bodies larger than the route's cap (413, before the body
is read when `Content-Length` says so, otherwise as soon as the cap is passed), so no handler ever
holds an unbounded body. It then runs the handler while it keeps listening to the connection
(`watch_disconnect`, on for an upstream source): when the client goes away before the answer is
complete, the handler is cancelled, and with it any upstream call it was waiting on (work nobody
waits for is not done). Over a local store every step is bounded local work, so the watch (a
task and a cancel scope, about 16 us a request under uvloop here) is left off there. A records
call already running in a worker thread finishes first (threads cannot be interrupted), so an
audit append is never cut in half.

`parse_json_body` reads a JSON body with a nesting cap (Python's parser recurses, and a deeply
nested body raised RecursionError, a 500) and refuses strings that cannot be stored (lone
surrogates from `\\ud800` escapes). `RateLimiter` is a small bounded token bucket per key.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from gate.errors import InputError, RateLimited

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_HEAD_BYTES = 32 * 1024
"""Request line and headers together: the client sends well under 4 KiB."""
MAX_BODY_BYTES = 1024 * 1024
"""Any body (`paths-info` forms are the largest the client sends)."""
MAX_ANSWER_BYTES = 64 * 1024
"""An inquiry's answers: a few countries and names."""
MAX_JSON_DEPTH = 16
ANSWER_PATH_PREFIX = "/api/gate/inquiries/"


def body_limit(path: str) -> int:
    """The body cap of a route, by its raw path."""
    if path.startswith(ANSWER_PATH_PREFIX):
        return MAX_ANSWER_BYTES
    return MAX_BODY_BYTES


async def _refuse(send: Send, status: int, message: str) -> None:
    payload = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-error-message", message.encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _head_size(scope: Scope) -> int:
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return size + sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 18 else -1
    return None


class RequestLimits:
    """Caps the request head and body, then runs the app, cancelling it if the client leaves."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_head_bytes: int = MAX_HEAD_BYTES,
        limit_for: Callable[[str], int] = body_limit,
        watch_disconnect: bool = True,
    ) -> None:
        self.app = app
        self.max_head_bytes = max_head_bytes
        self.limit_for = limit_for
        self.watch_disconnect = watch_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _head_size(scope) > self.max_head_bytes:
            await _refuse(send, 431, "gate: request headers too large")
            return
        raw = scope.get("raw_path") or scope.get("path", "").encode()
        limit = self.limit_for(raw.decode("latin-1"))
        declared = _declared_length(scope)
        if declared is not None and not 0 <= declared <= limit:
            await _refuse(send, 413, f"gate: request body over {limit} bytes")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its request: nothing to do
            body += message.get("body", b"")
            if len(body) > limit:
                await _refuse(send, 413, f"gate: request body over {limit} bytes")
                return
            if not message.get("more_body", False):
                break
        if self.watch_disconnect:
            await _run_until_disconnect(self.app, scope, bytes(body), receive, send)
        else:
            await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the server's own messages (the disconnect)."""
    handed = False

    async def app_receive() -> Message:
        nonlocal handed
        if not handed:
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    app_receive.__wrapped__ = receive  # type: ignore[attr-defined]  # see zerocopy.uvicorn_cycle
    return app_receive


async def _run_until_disconnect(
    app: ASGIApp, scope: Scope, body: bytes, receive: Receive, send: Send
) -> None:
    gone = asyncio.Event()
    handed = False

    async def app_receive() -> Message:
        nonlocal handed
        if not handed:
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    app_receive.__wrapped__ = receive  # type: ignore[attr-defined]  # see zerocopy.uvicorn_cycle

    async def watch(cancel: anyio.CancelScope) -> None:
        # With the whole body read, the server's next message is the disconnect (once the
        # response is complete it says disconnect too, but by then this watch is cancelled).
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()
        cancel.cancel()

    # One cancel scope and a bare task, not a task group: this runs on every request, and a
    # task group costs several times as much. The scope (unlike a plain task.cancel()) waits
    # for a records call running in a worker thread, which is shielded, to return.
    with anyio.CancelScope() as cancel:
        watcher = asyncio.ensure_future(watch(cancel))
        try:
            await app(scope, app_receive, send)
        finally:
            watcher.cancel()


def _check_depth(raw: bytes, max_depth: int) -> None:
    """Refuse JSON nested deeper than `max_depth`, without parsing it (the parser recurses)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                raise InputError("body", f"JSON nested deeper than {max_depth} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1


def _check_text(value: Any, where: str = "body") -> None:
    """Every string in a parsed JSON value must be storable (valid UTF-8 once encoded)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(where, "text with a lone surrogate (invalid Unicode)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, where)


def parse_json_body(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A request body as JSON: InputError for bad UTF-8, bad JSON, deep nesting, bad text."""
    _check_depth(raw, max_depth)
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError("body", "expected a JSON object of answers") from exc
    _check_text(value)
    return value


class RateLimiter:
    """A token bucket per key: `burst` at once, then `per_minute`; at most `max_keys` tracked.

    Event-loop only (no lock). When more keys are live than `max_keys`, the least recently used
    is forgotten (it starts again with a full bucket): memory stays bounded whatever the keys.
    """

    def __init__(
        self,
        *,
        burst: int = 5,
        per_minute: float = 10.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, what: str) -> None:
        """Use one token of `key`; RateLimited (429) naming `what` when none is left."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
            raise RateLimited(f"too many {what}; try again in {wait:.0f} s", retry_after=wait)
        self._buckets[key] = (tokens - 1.0, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
