"""Serving the console beside the gate: its own uvicorn server on its own (loopback) listener.

`gate serve --console-port P` and `gate demo --keep-running` start one in a background thread of
the gate's process, sharing the gate's records store.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import uvicorn

from gate.errors import InputError

if TYPE_CHECKING:
    from gate.server.settings import ServeSettings

log = logging.getLogger("gate.console")


class ConsoleServer:
    """uvicorn serving `app` on host:port (0: a free port) in a daemon thread; a context manager.

    The socket is bound when the object is made, so a port in use fails at once, before the gate
    starts serving."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise InputError(
                "console_port", f"cannot listen on {host}:{port}: {exc.strerror}"
            ) from None
        self.port = int(self.sock.getsockname()[1])
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            access_log=False,
            log_config=None,
            # Forwarded headers are trusted only from GATE_TRUSTED_PROXIES (see `serve_console`).
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            daemon=True,
            name="gate-console",
        )

    def __enter__(self) -> ConsoleServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console's server did not start within 10 s")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextlib.contextmanager
def serve_console(
    settings: ServeSettings, wrap: Callable[[Any], Any] | None = None
) -> Iterator[ConsoleServer]:
    """The console of `gate serve --console-port`: its own store connection (so it outlives the
    supervisor's when several workers serve the hub API), checkpoints signed with the gate's key,
    checkpoint signatures checked with the key ring's public keys."""
    from gate.console.app import create_console_app
    from gate.crypto.keys import KeyRing
    from gate.wiring import open_records, require_signer

    assert settings.console_port is not None
    store = open_records(settings, require_signer(settings))
    ring = KeyRing(settings.effective_key_dir)
    app = create_console_app(
        store,
        public_keys=lambda: ring.public_keys() if ring.initialized else None,
        secure_cookies=settings.console_secure_cookies,
    )
    served: Any = app if wrap is None else wrap(app)  # e.g. the real client address middleware
    try:
        with ConsoleServer(served, settings.console_host, settings.console_port) as server:
            log.info("compliance console at %s", server.url)
            yield server
    finally:
        store.close()
