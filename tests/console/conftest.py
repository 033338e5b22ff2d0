"""A real gate and its console on loopback: the demo's world, a records store, two officers.

The hub API (`gate.server`) and the console (`gate.console`) share one store, as under
`gate serve --console-port`; the recipients download with the real huggingface_hub client.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gate.console.app import create_console_app
from gate.console.serving import ConsoleServer
from gate.crypto.keys import KeyRing
from gate.demo.scenario import DemoWorld, build_world, seed_records
from gate.server.background import BackgroundServer
from gate.server.serve import Gate, build_gate
from gate.store import credentials, officers, recipients

FRONTIER = "acme/frontier-x"
SHARD = "model-00001-of-00002.safetensors"
OFFICER, VIEWER = "olivia", "victor"
CHROMIUM = "/usr/bin/chromium"  # Debian's; never a browser download of its own
PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    world: DemoWorld
    gate: Gate
    hub: str
    console: str
    tmp: Path

    def token(self, key: str) -> str:
        return self.world.tokens[key]

    def download(self, key: str, cache: str) -> Path:
        return Path(
            hf_hub_download(
                FRONTIER,
                SHARD,
                endpoint=self.hub,
                token=self.token(key),
                cache_dir=self.tmp / cache,
            )
        )

    def hold(self, key: str) -> str:
        """Ask for the frontier weights as `key`; returns the inquiry the hold opened."""
        with pytest.raises(GatedRepoError) as caught:
            self.download(key, f"hold-{key}")
        found = re.search(r"inquiry (inq_[0-9a-f]+) is open", str(caught.value))
        assert found is not None, str(caught.value)
        return found.group(1)

    def answer(self, key: str, inquiry_id: str, answers: dict[str, object]) -> None:
        response = httpx.post(
            f"{self.hub}/api/gate/inquiries/{inquiry_id}/answers",
            json=answers,
            headers={"Authorization": f"Bearer {self.token(key)}"},
        )
        assert response.status_code == 200, response.text

    def add_recipient(
        self, key: str, name: str, hq: str, parent: tuple[str, str] | str, destination: str
    ) -> None:
        rid = f"{self.world.recipient_ids['lumen']}-{key}"
        recipients.add(
            self.gate.store,
            rid,
            actor="test",
            name=name,
            headquarters=hq,
            parent=parent,
            destinations=[destination],
            default_destination=destination,
        )
        token, _ = credentials.create_token(self.gate.store, rid, actor="test")
        self.world.tokens[key] = token
        self.world.recipient_ids[key] = rid


def start_site(
    tmp_path: Path,
    database_url: str,
    *,
    secure_cookies: bool = False,
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[Site]:
    world = build_world(tmp_path / "world", database_url)
    gate = build_gate(world.settings)
    seed_records(world, gate.store)
    officers.add(gate.store, OFFICER, role="officer", password=PASSWORD, actor="test")
    officers.add(gate.store, VIEWER, role="viewer", password=PASSWORD, actor="test")
    ring = KeyRing(world.settings.effective_key_dir)
    console = create_console_app(
        gate.store, public_keys=ring.public_keys, secure_cookies=secure_cookies
    )
    try:
        with (
            BackgroundServer(gate.app) as hub,
            ConsoleServer(console if wrap is None else wrap(console)) as site,
        ):
            yield Site(world, gate, hub.url, site.url, tmp_path)
    finally:
        gate.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from start_site(tmp_path, f"sqlite:///{tmp_path / 'gate.db'}")


@pytest.fixture
def pg_site(tmp_path: Path, pg_schema_url: str) -> Iterator[Site]:
    yield from start_site(tmp_path, pg_schema_url)


def sign_in(base: str, name: str = OFFICER, password: str = PASSWORD) -> httpx.Client:
    """A client signed in to the console (its cookie jar holds the session)."""
    client = httpx.Client(base_url=base, follow_redirects=False)
    form = client.get("/signin")
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert token is not None
    done = client.post(
        "/signin", data={"token": token.group(1), "name": name, "password": password}
    )
    assert done.status_code == 303, done.text
    return client


def review_form(client: httpx.Client, inquiry_id: str) -> dict[str, str]:
    html = client.get(f"/inquiries/{inquiry_id}").text
    version = re.search(r'name="version" value="(\d+)"', html)
    digest = re.search(r'name="digest" value="([^"]+)"', html)
    assert version and digest, "the officer's page carries the version it shows"
    return {
        "csrf": csrf_of(html),
        "version": version.group(1),
        "digest": digest.group(1),
        "decision": "approve",
        "note": "checked",
    }


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def signed_in(browser: Browser, site: Site, name: str = OFFICER, width: int = 1280) -> Page:
    context = browser.new_context(
        base_url=site.console, viewport={"width": width, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(f"{site.console}/signin?next=%2F")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue", exact=True)).to_be_visible()
    return page
