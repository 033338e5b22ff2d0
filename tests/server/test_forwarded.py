"""The client address in the audit is the real one (issue 11 item 9).

Forwarded headers (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) are anyone's to write: they
count only when the TCP peer is a proxy the operator lists in `GATE_TRUSTED_PROXIES`. uvicorn
trusts `X-Forwarded-For` from 127.0.0.1 by default, so this is tested through the real
`gate serve`, with one worker and with two (the workers rebuild the app from the environment).
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from gate.demo.scenario import DemoWorld, build_world, seed_records
from gate.networks import parse_networks
from gate.server.forwarded import client_address
from gate.server.serve import build_gate
from gate.store import audit
from gate.wiring import open_records
from tests.server.serving import free_port, gate_command, gate_env, serving

SPOOFED = {
    "X-Forwarded-For": "203.0.113.9",
    "Forwarded": "for=198.51.100.7",
    "X-Real-IP": "192.0.2.44",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    made = build_world(tmp_path_factory.mktemp("forwarded") / "world")
    gate = build_gate(made.settings)
    seed_records(made, gate.store)
    gate.close()
    return made


def _recorded_client(world: DemoWorld, url: str, headers: dict[str, str]) -> str | None:
    response = httpx.head(
        f"{url}/open-lab/open-tiny/resolve/main/config.json",
        headers={"Authorization": f"Bearer {world.tokens['nordic']}", **headers},
    )
    assert response.status_code == 200, response.headers.get("X-Error-Message")
    store = open_records(world.settings, None)
    try:
        entry = audit.get_entry(store, response.headers["X-Request-Id"])
    finally:
        store.close()
    meta = entry.payload["meta"]
    return None if meta.get("client_address") is None else str(meta["client_address"])


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_forwarded_headers_are_ignored_by_default(world: DemoWorld, workers: int) -> None:
    with serving(world, "--store", str(world.store_dir), "--workers", str(workers)) as (url, _):
        assert _recorded_client(world, url, SPOOFED) == "127.0.0.1"
        assert _recorded_client(world, url, {"X-Forwarded-For": "10.9.8.7"}) == "127.0.0.1"


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_trusted_proxy_names_the_client(world: DemoWorld, workers: int) -> None:
    trusted = "127.0.0.0/8, 10.0.0.0/8"
    args = ("--store", str(world.store_dir), "--workers", str(workers))
    with serving(world, *args, GATE_TRUSTED_PROXIES=trusted) as (url, _):
        # The proxy appends the address it saw; what the client wrote before it is not trusted.
        chain = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.1.2.3"}
        assert _recorded_client(world, url, chain) == "203.0.113.9"
        assert _recorded_client(world, url, {"Forwarded": 'for="[2001:db8::1]:4711"'}) == (
            "2001:db8::1"
        )
        assert _recorded_client(world, url, {"X-Real-IP": "192.0.2.44"}) == "192.0.2.44"
        assert _recorded_client(world, url, {}) == "127.0.0.1"
        assert _recorded_client(world, url, {"X-Forwarded-For": "unknown"}) == "127.0.0.1"


@pytest.mark.slow
def test_a_bad_trusted_proxies_setting_stops_the_start(world: DemoWorld) -> None:
    command = gate_command("serve", "--store", str(world.store_dir), "--port", str(free_port()))
    done = subprocess.run(
        command,
        env=gate_env(world, GATE_TRUSTED_PROXIES="10.0.0.0/8, proxy.internal"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "trusted_proxies" in done.stderr and "proxy.internal" in done.stderr
    assert "Traceback" not in done.stderr


LOCAL = parse_networks("127.0.0.1, 10.0.0.0/8, fd00::/8")


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("198.51.100.1", {"x-forwarded-for": "1.2.3.4"}, "198.51.100.1"),  # peer not a proxy
        ("127.0.0.1", {}, "127.0.0.1"),
        ("127.0.0.1", {"x-forwarded-for": "1.2.3.4"}, "1.2.3.4"),
        ("127.0.0.1", {"x-forwarded-for": "9.9.9.9, 1.2.3.4"}, "1.2.3.4"),
        ("127.0.0.1", {"x-forwarded-for": "9.9.9.9, 1.2.3.4, 10.0.0.5"}, "1.2.3.4"),
        ("127.0.0.1", {"x-forwarded-for": "10.0.0.9, 10.0.0.5"}, "10.0.0.9"),
        ("127.0.0.1", {"x-forwarded-for": "1.2.3.4, garbage"}, "127.0.0.1"),
        ("127.0.0.1", {"x-forwarded-for": "1.2.3.4:80"}, "1.2.3.4"),
        ("127.0.0.1", {"forwarded": "for=1.2.3.4;proto=https, for=10.0.0.2"}, "1.2.3.4"),
        (
            "127.0.0.1",
            {"forwarded": 'For="[2001:db8::7]"', "x-forwarded-for": "5.5.5.5"},
            "2001:db8::7",
        ),
        ("127.0.0.1", {"forwarded": "for=_hidden"}, "127.0.0.1"),
        ("127.0.0.1", {"x-real-ip": "1.2.3.4"}, "1.2.3.4"),
        ("fd00::1", {"x-forwarded-for": "2001:db8::9"}, "2001:db8::9"),
    ],
)
def test_client_address_walks_the_trusted_hops(
    peer: str, headers: dict[str, str], expected: str
) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    assert client_address(peer, raw, LOCAL) == expected
    assert client_address(peer, raw, ()) == peer
