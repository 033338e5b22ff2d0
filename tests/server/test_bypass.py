"""Each request here tries to get a parameter byte of a refused file; none may succeed.

The refused file: shard 1 of lab/frontier (controlled) for Dragon AI (headquartered in CN).
Only its safetensors header window (8 + N bytes) may ever leave.
"""

from __future__ import annotations

import socket
import struct

import httpx
import pytest

from tests.server.conftest import Repos, ServerThread, StoreKeeper

NAME = "model-00001-of-00002.safetensors"
DRAGON = {"Authorization": "Bearer tok-dragon"}


def _window(data: bytes) -> int:
    return 8 + int(struct.unpack("<Q", data[:8])[0])


def _assert_no_parameters(response: httpx.Response, data: bytes) -> None:
    """The body holds no byte past the header window (the window itself is allowed)."""
    window = _window(data)
    body = response.content
    if response.status_code in (200, 206) and "octet-stream" in response.headers.get(
        "content-type", ""
    ):
        assert response.headers.get("Content-Range", "").startswith("bytes ")
        start = int(response.headers["Content-Range"].split()[1].split("-")[0])
        assert start + len(body) <= window, "bytes past the safetensors header were sent"
    else:
        assert data[window:] not in body
        assert data[window : window + 64] not in body


@pytest.fixture()
def client(gate: ServerThread) -> httpx.Client:
    return httpx.Client(base_url=gate.url, timeout=10)


@pytest.fixture()
def weights(repos: Repos) -> bytes:
    return repos.files["lab/frontier"][NAME]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/lab/frontier/resolve/main/{NAME}", 403),
        (f"/lab/frontier/resolve/main/{NAME.replace('.', '%2E')}", 403),
        (f"/lab/frontier/resolve/main/{NAME.replace('.', '%252E')}", 404),
        (f"/lab/frontier/resolve/main/sub/%2E%2E/{NAME}", 404),
        (f"/lab/frontier/resolve/main/.%2F{NAME}", 404),
        (f"/lab/frontier/resolve/main//{NAME}", 404),
        (f"/lab%2Ffrontier/resolve/main/{NAME}", 404),
        (f"/LAB/Frontier/resolve/main/{NAME}", 403),
        (f"/lab/FRONTIER/resolve/refs%2Fpr%2F1/{NAME}", 403),
        (f"/lab/frontier/resolve/main%2F..%2F..%2Fblobs/{NAME}", 404),
        (f"/models/lab/frontier/resolve/main/{NAME}", 404),
        (f"/lab/frontier.git/info/lfs/objects/{NAME}", 404),
    ],
)
def test_path_spellings(client: httpx.Client, weights: bytes, path: str, status: int) -> None:
    for method in ("HEAD", "GET"):
        response = client.request(method, path, headers=DRAGON)
        if method == "HEAD" and status == 403:
            # A refused safetensors file answers HEAD with its metadata (no body, no receipt) so
            # get_safetensors_metadata can read the header; the refusal rides as a warning.
            assert response.status_code == 200, (path, response.headers)
            assert response.content == b""
            assert response.headers["X-Gate-Decision"].startswith("deny")
            assert "X-Gate-Receipt" not in response.headers
            assert "presumption_of_denial" in response.headers["X-HF-Warning"]
            continue
        assert response.status_code == status, (method, path, response.headers)
        _assert_no_parameters(response, weights)
        if status == 403:
            assert response.headers["X-Error-Code"] == "GatedRepo"


def test_decisions_bind_to_canonical_repo_and_commit(
    client: httpx.Client, keeper: StoreKeeper, repos: Repos, weights: bytes
) -> None:
    commit = repos.commits["lab/frontier"]
    for rev in ("main", commit, "refs%2Fpr%2F1"):
        response = client.get(f"/Lab/Frontier/resolve/{rev}/{NAME}", headers=DRAGON)
        assert response.status_code == 403
        _assert_no_parameters(response, weights)
        assert response.headers["X-Repo-Commit"] == commit
        body = response.json()
        assert body["verdict"] == "deny" and body["decision"]["verdict"] == "deny"
        assert response.headers["X-Request-Id"] == body["decision_id"]
    assert {(c.repo_id, c.commit) for _, c, _ in keeper.decisions} == {("lab/frontier", commit)}


def test_raw_dot_segments(gate: ServerThread, weights: bytes) -> None:
    """`..` sent as is (httpx would normalise it away, a raw socket does not)."""
    for target in (
        f"/lab/frontier/resolve/main/sub/../{NAME}",
        f"/lab/frontier/resolve/main/./{NAME}",
    ):
        with socket.create_connection(("127.0.0.1", gate.port), timeout=5) as conn:
            conn.sendall(
                f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-dragon\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            raw = b""
            while chunk := conn.recv(65536):
                raw += chunk
        assert raw.startswith(b"HTTP/1.1 404"), raw[:100]
        assert weights[_window(weights) :][:64] not in raw


@pytest.mark.slow
@pytest.mark.parametrize(
    "template",
    [
        "bytes={w}-",
        "bytes={w}-{w2}",
        "bytes=-64",
        "bytes={last}-",
        "bytes=0-10,{w}-{w2}",
        "bytes=x-y",
        "bytes=0-10, {w}-{w2}",
        "items=0-10",
        "bytes=-0",
        "bytes={size}-",
    ],
)
def test_ranges_outside_the_header(client: httpx.Client, weights: bytes, template: str) -> None:
    window = _window(weights)
    header = template.format(w=window, w2=window + 100, last=len(weights) - 1, size=len(weights))
    response = client.get(f"/lab/frontier/resolve/main/{NAME}", headers={**DRAGON, "Range": header})
    assert response.status_code in (403, 416), (header, response.status_code)
    _assert_no_parameters(response, weights)


@pytest.mark.parametrize("template", ["bytes=0-", "bytes=8-{w2}", "bytes=100-{size}", "bytes=0-0"])
def test_ranges_starting_in_the_header_are_cut_at_its_end(
    client: httpx.Client, weights: bytes, template: str
) -> None:
    window = _window(weights)
    header = template.format(w2=window + 100, size=len(weights) * 2)
    response = client.get(f"/lab/frontier/resolve/main/{NAME}", headers={**DRAGON, "Range": header})
    assert response.status_code == 206
    start = int(header.split("=")[1].split("-")[0])
    assert response.content == weights[start:window][: len(response.content)]
    _assert_no_parameters(response, weights)


def test_header_window_is_exactly_the_header(client: httpx.Client, weights: bytes) -> None:
    window = _window(weights)
    response = client.get(
        f"/lab/frontier/resolve/main/{NAME}", headers={**DRAGON, "Range": "bytes=0-100000"}
    )
    assert response.status_code == 206
    assert response.content == weights[:window]
    assert response.headers["Content-Range"] == f"bytes 0-{window - 1}/{len(weights)}"


def test_head_by_one_recipient_then_get_by_another(client: httpx.Client, weights: bytes) -> None:
    url = f"/lab/frontier/resolve/main/{NAME}"
    head = client.head(url, headers={"Authorization": "Bearer tok-acme"})
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(weights))
    get = client.get(url, headers=DRAGON)
    assert get.status_code == 403
    _assert_no_parameters(get, weights)


@pytest.mark.parametrize("token", [None, "forged-token", "tok-old", "tok-acme\x00"])
def test_credentials(client: httpx.Client, weights: bytes, token: str | None) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if token and "\x00" in token:
        headers = {"Authorization": "Basic dG9rLWFjbWU6"}
    for method in ("HEAD", "GET"):
        response = client.request(method, f"/lab/frontier/resolve/main/{NAME}", headers=headers)
        assert response.status_code == 401
        _assert_no_parameters(response, weights)


def test_metadata_endpoints_carry_no_bytes_and_no_xet(client: httpx.Client, weights: bytes) -> None:
    tree = client.get("/api/models/lab/frontier/tree/main?recursive=true", headers=DRAGON)
    assert tree.status_code == 200
    assert "xetHash" not in tree.text
    info = client.post(
        "/api/models/lab/frontier/paths-info/main", data={"paths": [NAME, "sub"]}, headers=DRAGON
    )
    assert [e["type"] for e in info.json()] == ["file", "directory"]
    assert "xetHash" not in info.text
    xet = client.get("/api/models/lab/frontier/xet-read-token/main", headers=DRAGON)
    assert xet.status_code == 403
    assert xet.headers["X-Error-Code"] == "GatedRepo"
    lfs = client.post("/lab/frontier.git/info/lfs/objects/batch", json={}, headers=DRAGON)
    assert lfs.status_code == 404
    for response in (tree, info, xet, lfs):
        _assert_no_parameters(response, weights)
        assert not any(h.lower().startswith("x-xet") for h in response.headers)


def test_tree_is_paginated(client: httpx.Client, repos: Repos) -> None:
    seen: list[str] = []
    url: str | None = "/api/models/lab/frontier/tree/main?recursive=true"
    pages = 0
    while url is not None:
        response = client.get(url, headers=DRAGON)
        seen += [e["path"] for e in response.json() if e["type"] == "file"]
        url = response.links.get("next", {}).get("url")
        pages += 1
    assert pages > 1
    assert sorted(seen) == sorted(repos.files["lab/frontier"])


def test_agent_harnesses_is_404(client: httpx.Client) -> None:
    assert client.get("/api/agent-harnesses").status_code == 404
