"""Every route, driven with random bytes, headers and bodies: no 5xx, bounded memory.

The real `gate serve` runs as its own process over the demo world, so its resident memory can be
measured before and after. A 503 would be allowed only for a failed store (none fails here, so
none is expected); anything else at or above 500 is a defect. Seeded: a failure replays.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from gate.demo.scenario import DemoWorld, build_world, seed_records
from gate.server.serve import build_gate
from tests.server.serving import rss_bytes, serving

SEED = 11_08
ROUNDS = 1500
MAX_GROWTH = 64 * 1024 * 1024
"""Resident memory the server may gain over the whole run (measured: see the report line)."""

REPOS = ["acme/frontier-x", "open-lab/open-tiny", "acme/closed-small", "nobody/none", "x"]
FILES = ["config.json", "model-00001-of-00002.safetensors", "model.safetensors", "README.md"]
ROUTES = [
    "/{repo}/resolve/{rev}/{file}",
    "/api/models/{repo}",
    "/api/models/{repo}/revision/{rev}",
    "/api/models/{repo}/tree/{rev}",
    "/api/models/{repo}/tree/{rev}/{file}",
    "/api/models/{repo}/paths-info/{rev}",
    "/api/models/{repo}/xet-read-token/{rev}",
    "/api/whoami-v2",
    "/api/gate/receipts/{id}",
    "/api/gate/inquiries/{id}/answers",
    "/.well-known/gate-keys.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/{junk}",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]


def _junk(rng: random.Random, size: int) -> str:
    """Random bytes percent-encoded (mostly not UTF-8), or random printable text."""
    if rng.random() < 0.5:
        return "".join(f"%{b:02x}" for b in rng.randbytes(size))
    return quote("".join(chr(rng.randrange(0x20, 0x2FF)) for _ in range(size)), safe="/%")


def _segment(rng: random.Random, choices: list[str]) -> str:
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(choices)
    if roll < 0.7:
        return rng.choice(["..", ".", "%2e%2e", "%2F", "%00", "main%2F..", "refs%2Fpr%2F1"])
    if roll < 0.8:
        return "9" * rng.choice([1, 40, 5000])
    return _junk(rng, rng.randrange(1, 40))


def _body(rng: random.Random) -> bytes:
    kind = rng.randrange(8)
    if kind == 0:
        return b""
    if kind == 1:
        return rng.randbytes(rng.randrange(1, 4096))
    if kind == 2:
        depth = rng.choice([10, 1000, 50_000])
        return b"[" * depth + b"]" * depth
    if kind == 3:
        return b'{"ultimate_parent": {"name": "\\ud800", "headquarters": "\\udfff"}}'
    if kind == 4:
        return json.dumps({"destination": "x" * rng.randrange(10, 200_000)}).encode()
    if kind == 5:
        return b"paths=" + _junk(rng, 100).encode() + b"&paths=config.json"
    if kind == 6:
        return json.dumps({"export_destinations": ["DE"] * rng.randrange(1, 5000)}).encode()
    return json.dumps({"a": [1e308, -1e308, 10**400, None, True]}, default=str).encode()


def _headers(rng: random.Random, tokens: list[str]) -> dict[str, bytes]:
    headers: dict[str, bytes] = {}
    roll = rng.random()
    if roll < 0.6:
        headers["Authorization"] = f"Bearer {rng.choice(tokens)}".encode()
    elif roll < 0.8:
        headers["Authorization"] = rng.choice(
            [b"Bearer ", b"Basic abc", b"Bearer " + rng.randbytes(30).hex().encode(), b"\xff"]
        )
    if rng.random() < 0.4:
        headers["Range"] = rng.choice(
            [
                b"bytes=0-99",
                b"bytes=0-",
                b"bytes=-5",
                b"bytes=" + b"9" * 5000 + b"-",
                b"bytes=5-1",
                b"bytes=0-1,5-9",
                b"bytes=\xb2-",
                rng.randbytes(20).hex().encode(),
            ]
        )
    if rng.random() < 0.4:
        headers["X-Gate-Destination"] = rng.choice(
            [b"DE", b"Narnia", b"\xff\xfe", b"x" * 20_000, b"CN", b"UA-43", b""]
        )
    if rng.random() < 0.2:
        headers["X-Forwarded-For"] = b"1.2.3.4, " + rng.randbytes(8).hex().encode()
    if rng.random() < 0.2:
        headers["Content-Type"] = rng.choice(
            [b"application/json", b"application/x-www-form-urlencoded", b"text/plain"]
        )
    return headers


def _request(
    rng: random.Random, tokens: list[str], ids: list[str], base: str = "http://gate"
) -> httpx.Request:
    route = rng.choice(ROUTES)
    path = route.format(
        repo=_segment(rng, REPOS),
        rev=_segment(rng, ["main", "refs%2Fpr%2F1", "0" * 40, "v1"]),
        file=_segment(rng, FILES),
        id=_segment(rng, ids),
        junk=_junk(rng, rng.randrange(1, 60)),
    )
    if rng.random() < 0.2:
        path += "?" + rng.choice(["recursive=true", "cursor=-1", "cursor=" + "9" * 5000, "%ff"])
    method = rng.choice(METHODS)
    content = _body(rng) if method in ("POST", "PUT", "PATCH") or rng.random() < 0.05 else b""
    return httpx.Request(method, base + path, headers=_headers(rng, tokens), content=content)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    made = build_world(tmp_path_factory.mktemp("fuzz") / "world")
    gate = build_gate(made.settings)
    seed_records(made, gate.store)
    gate.close()
    return made


def _inquiry_ids(client: httpx.Client, world: DemoWorld) -> list[str]:
    """Real ids to aim at: the inquiry a hold opens and the decision ids answered so far."""
    ids = ["inq_0", "dec_0"]
    for key in world.tokens:
        response = client.get(
            "/acme/frontier-x/resolve/main/model-00001-of-00002.safetensors",
            headers={"Authorization": f"Bearer {world.tokens[key]}"},
        )
        ids.append(response.headers.get("X-Request-Id", "dec_1"))
        if response.status_code == 403:
            inquiry = response.json().get("inquiry")
            if inquiry:
                ids.append(inquiry["id"])
    return ids


def _send(client: httpx.Client, request: httpx.Request) -> httpx.Response | None:
    try:
        return client.send(request)
    except httpx.LocalProtocolError:  # h11 will not send it (e.g. trailing space): not ours
        return None


def _raw(url: str, data: bytes) -> None:
    """Bytes no HTTP client would send: the server answers 4xx or closes, and stays up."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        with suppress(OSError):
            sock.recv(65536)


@contextmanager
def _gate(world: DemoWorld, mode: str) -> Iterator[tuple[str, int]]:
    """The gate under test: over the local store, or in front of another gate as upstream."""
    if mode == "store":
        with serving(world, "--store", str(world.store_dir)) as served:
            yield served
        return
    with (
        serving(world, "--store", str(world.store_dir)) as (upstream, _),
        serving(
            world, "--upstream", upstream, "--upstream-token", world.tokens["nordic"]
        ) as served,
    ):
        yield served


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["store", "upstream"])
def test_fuzz_every_route(world: DemoWorld, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    tokens = [*world.tokens.values(), "wg_nope", ""]
    with (
        _gate(world, mode) as (url, pid),
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        ids = _inquiry_ids(client, world)
        for _ in range(100):  # warm up: imports, caches, first classifications
            _send(client, _request(rng, tokens, ids, url))
        before = rss_bytes(pid)
        failures: list[str] = []
        for round_ in range(ROUNDS):
            request = _request(rng, tokens, ids, url)
            response = _send(client, request)
            if response is None:
                continue
            message = response.headers.get("X-Error-Message", "")
            store_down = response.status_code == 503 and "records store" in message
            if response.status_code >= 500 and not store_down:
                failures.append(
                    f"{round_}: {request.method} {str(request.url)[:200]} -> "
                    f"{response.status_code} {message[:200]}"
                )
            assert len(message) <= 512
        for data in (
            b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * (11 << 20) + b"\r\n\r\n",
            b"POST /api/gate/inquiries/inq_0/answers HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 99999999999999999999999\r\n\r\n",
            b"POST /api/gate/inquiries/inq_0/answers HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
        ):
            _raw(url, data)
        assert client.get("/healthz").status_code == 200
        after = rss_bytes(pid)
    with capsys.disabled():
        print(
            f"\nfuzz ({mode}): {ROUNDS} requests, server RSS {before / 2**20:.1f} -> "
            f"{after / 2**20:.1f} MiB ({(after - before) / 2**20:+.1f} MiB)"
        )
    assert not failures, "\n".join(failures[:20])
    assert after - before < MAX_GROWTH


def test_the_fuzzer_reaches_every_route() -> None:
    """The generator is not stuck on a few shapes: every route and method comes up."""
    rng = random.Random(SEED)
    seen_routes: set[str] = set()
    seen_methods: set[str] = set()
    for _ in range(ROUNDS):
        request = _request(rng, ["t"], ["i"])
        seen_methods.add(request.method)
        path = request.url.raw_path.decode()
        for route in ("/resolve/", "/tree/", "/paths-info/", "/receipts/", "/answers", "/readyz"):
            if route in path:
                seen_routes.add(route)
    assert seen_methods == set(METHODS)
    assert len(seen_routes) == 6
    assert Path(__file__).name == "test_fuzz.py"
