"""In upstream mode every file streams in bounded memory, whatever its size, LFS or not.

The hub gives only a git blob id for a non-LFS file, so the gate learns its sha256 by reading
it once before the first byte goes out; that read must stream too. A fake hub on loopback lists
a 128 MiB non-LFS file; the real `gate serve --upstream` in its own process relays it, and its
peak resident memory (VmHWM) is measured around the download (issue 11 item 8).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gate.demo.scenario import DemoWorld, build_world, seed_records
from gate.server.background import BackgroundServer
from gate.server.serve import build_gate
from gate.store import models
from gate.wiring import open_records
from tests.server.serving import peak_rss_bytes, serving

REPO = "open/plain-big"
COMMIT = "c" * 40
BLOCK = bytes(range(256)) * 4096  # 1 MiB
BLOCKS = 128
SIZE = len(BLOCK) * BLOCKS
MAX_GROWTH = 64 * 1024 * 1024


def _digests() -> tuple[str, str]:
    sha = hashlib.sha256()
    git = hashlib.sha1(f"blob {SIZE}\0".encode(), usedforsecurity=False)
    for _ in range(BLOCKS):
        sha.update(BLOCK)
        git.update(BLOCK)
    return sha.hexdigest(), git.hexdigest()


SHA256, GIT_OID = _digests()


async def _json(send: Any, value: Any) -> None:
    body = json.dumps(value).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def plain_hub(scope: Any, receive: Any, send: Any) -> None:
    """A hub with one repository holding one big file that is not in LFS."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/healthz":
        await _json(send, {"status": "ok"})
    elif path.startswith(f"/api/models/{REPO}/revision/"):
        await _json(send, {"id": REPO, "sha": COMMIT, "private": False, "gated": False})
    elif path == f"/api/models/{REPO}/tree/{COMMIT}":
        await _json(send, [{"type": "file", "path": "big.bin", "size": SIZE, "oid": GIT_OID}])
    elif path == f"/{REPO}/resolve/{COMMIT}/big.bin":
        wanted = dict(scope["headers"]).get(b"range", b"").decode()
        found = re.fullmatch(r"bytes=(\d+)-(\d+)", wanted)
        start, stop = (int(found[1]), int(found[2]) + 1) if found else (0, SIZE)
        headers = [
            (b"content-length", str(stop - start).encode()),
            (b"content-range", f"bytes {start}-{stop - 1}/{SIZE}".encode()),
        ]
        await send({"type": "http.response.start", "status": 206, "headers": headers})
        position = start
        while position < stop:
            offset = position % len(BLOCK)
            piece = BLOCK[offset : offset + min(len(BLOCK) - offset, stop - position)]
            position += len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": position < stop})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture()
def world(tmp_path: Any) -> Iterator[DemoWorld]:
    made = build_world(tmp_path / "world")
    gate = build_gate(made.settings)
    seed_records(made, gate.store)
    gate.close()
    store = open_records(made.settings, None)
    try:
        models.classify(store, REPO, actor="tests", reason="an open test model", published=True)
    finally:
        store.close()
    yield made


@pytest.mark.slow
def test_a_big_non_lfs_file_streams_in_bounded_memory(
    world: DemoWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        BackgroundServer(plain_hub) as hub,
        serving(world, "--upstream", hub.url) as (url, pid),
    ):
        headers = {"Authorization": f"Bearer {world.tokens['nordic']}"}
        before = peak_rss_bytes(pid)
        sha = hashlib.sha256()
        with httpx.stream(
            "GET", f"{url}/{REPO}/resolve/main/big.bin", headers=headers, timeout=120
        ) as response:
            assert response.status_code == 200, response.headers.get("X-Error-Message")
            for chunk in response.iter_bytes():
                sha.update(chunk)
        after = peak_rss_bytes(pid)
    with capsys.disabled():
        print(
            f"\nupstream non-LFS {SIZE >> 20} MiB: gate peak RSS {before / 2**20:.1f} -> "
            f"{after / 2**20:.1f} MiB ({(after - before) / 2**20:+.1f} MiB)"
        )
    assert sha.hexdigest() == SHA256
    assert after - before < MAX_GROWTH
