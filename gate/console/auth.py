"""Sign-in for the console: the session cookie, CSRF checks and the sign-in rate limit.

- The session cookie holds a random token (the store keeps its sha256); it is HttpOnly,
  SameSite=Strict, Path=/, and Secure when the console is reached over TLS (or told it is
  behind a TLS proxy), so no script and no other site can use it.
- Every form carries the session's CSRF token; a POST without the right one is refused (403).
  The sign-in form, before any session exists, uses a double-submit token instead: a random
  value both in a cookie and in the form. A POST whose Origin names another site is refused too.
- Failed sign-ins are limited per client address and per officer name (sliding window), so
  guessing passwords is slow whichever of the two an attacker varies.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "gate_console_session"
PRESESSION_COOKIE = "gate_console_signin"


def tokens_match(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def same_origin(request: Request) -> bool:
    """False when the browser says the POST comes from another origin (Origin or Referer)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        # No header: not a browser's cross-site form post (they send Origin); the CSRF
        # token still has to match. "null" (sandboxed frames, some redirects): refuse.
        return origin != "null"
    # A reverse proxy may rewrite Host; the host the browser used is then X-Forwarded-Host.
    # Neither header can be set by another site's form, so either may vouch for the origin.
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")}
    return urlsplit(origin).netloc in hosts - {""}


def set_cookie(response: Response, name: str, value: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="strict"
    )


class SignInLimiter:
    """At most `limit` failed sign-ins per key in `window` seconds; bounded memory."""

    def __init__(
        self,
        limit: int = 5,
        window: float = 900.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, *keys: str) -> int:
        """Seconds until a sign-in may be tried again for these keys; 0 when it may now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limit:
                    wait = max(wait, times[0] + self.window - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
