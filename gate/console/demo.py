"""The console of `gate demo --keep-running`: a demo officer whose password is printed once, and
a queue with something in it, so a newcomer can work the demo's holds in the browser."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterator, Mapping

import httpx

from gate.console.app import create_console_app
from gate.console.serving import ConsoleServer
from gate.errors import InputError
from gate.store import officers
from gate.store.db import Store

DEMO_OFFICER = "demo-officer"
log = logging.getLogger("gate.console")

# (recipient key, model, file, answers or None): what the demo's recipients ask for before the
# console opens. Lumen (US subsidiary of an Indian parent) is held under the duty to inquire and
# answers; Nordic asks for a model whose compute the gate cannot tell, and the hold waits.
_ASKS: tuple[tuple[str, str, str, Mapping[str, object] | None], ...] = (
    (
        "lumen",
        "acme/frontier-x",
        "model-00001-of-00002.safetensors",
        {
            "export_destinations": ["US"],
            "end_use": "fine-tuning a customer-support assistant",
            "license_obligation_acknowledged": True,
        },
    ),
    ("nordic", "acme/legacy-npz", "weights.npz", None),
)


def fill_queue(endpoint: str, tokens: Mapping[str, str]) -> list[str]:
    """Ask for the held transfers as the demo's recipients (through the hub API, as a client
    would) and answer one inquiry; returns the inquiry ids opened."""
    opened = []
    with httpx.Client(base_url=endpoint, timeout=30) as client:
        for key, repo, path, answers in _ASKS:
            if key not in tokens:
                continue
            auth = {"Authorization": f"Bearer {tokens[key]}"}
            refused = client.get(f"/{repo}/resolve/main/{path}", headers=auth)
            if refused.status_code != 403:
                continue
            inquiry = (refused.json().get("inquiry") or {}).get("id")
            if not inquiry:
                continue
            opened.append(str(inquiry))
            if answers is not None:
                client.post(f"/api/gate/inquiries/{inquiry}/answers", json=answers, headers=auth)
    return opened


@contextlib.contextmanager
def demo_console(
    store: Store,
    endpoint: str | None = None,
    tokens: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[dict[str, str]]:
    """Serve the console over the demo's store with a fresh officer; yields its url, name and
    password (made here, shown once, never stored in clear). With the hub's `endpoint` and the
    recipients' `tokens`, the queue is filled first (`fill_queue`)."""
    password = secrets.token_urlsafe(12)
    name = DEMO_OFFICER
    try:
        officers.add(store, name, role="officer", password=password, actor="gate demo")
    except InputError:  # a database shared with an earlier demo run already has one
        name = f"{DEMO_OFFICER}-{secrets.token_hex(3)}"
        officers.add(store, name, role="officer", password=password, actor="gate demo")
    if endpoint is not None and tokens is not None:
        try:
            fill_queue(endpoint, tokens)
        except (httpx.HTTPError, ValueError) as exc:  # the demo still serves, queue or not
            log.warning("could not fill the demo's queue: %s", exc)
    with ConsoleServer(create_console_app(store), host, port) as server:
        yield {"url": server.url, "officer": name, "password": password}
