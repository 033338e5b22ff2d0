"""The console of `gate demo --keep-running`: a demo officer whose password is printed once."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

from gate.console.app import create_console_app
from gate.console.serving import ConsoleServer
from gate.errors import InputError
from gate.store import officers
from gate.store.db import Store

DEMO_OFFICER = "demo-officer"


@contextlib.contextmanager
def demo_console(store: Store, host: str = "127.0.0.1", port: int = 0) -> Iterator[dict[str, str]]:
    """Serve the console over the demo's store with a fresh officer; yields its url, name and
    password (made here, shown once, never stored in clear)."""
    password = secrets.token_urlsafe(12)
    name = DEMO_OFFICER
    try:
        officers.add(store, name, role="officer", password=password, actor="gate demo")
    except InputError:  # a database shared with an earlier demo run already has one
        name = f"{DEMO_OFFICER}-{secrets.token_hex(3)}"
        officers.add(store, name, role="officer", password=password, actor="gate demo")
    with ConsoleServer(create_console_app(store), host, port) as server:
        yield {"url": server.url, "officer": name, "password": password}
