"""Verified local blobs go out with sendfile; a blob changed on disk is hashed (and caught) again.

Real parts: the real app on uvicorn on loopback, a local store on disk, the real records store.
Which path served the bytes is read from `/metrics` (`gate_bytes_zerocopy_total`).
"""

from __future__ import annotations

import os
import re
import time

import httpx
import pytest

from tests.server.conftest import Repos, ServerThread, blob_path

REPO = "open/small"
FILE = "model.safetensors"
AUTH = {"Authorization": "Bearer tok-acme"}


def zerocopy_bytes(gate: ServerThread, expected: int | None = None) -> int:
    """The counter; with `expected`, read again for a while until it says so (the server
    counts a body after its last byte left, which may be just after the client has it)."""
    deadline = time.monotonic() + 5
    while True:
        text = httpx.get(f"{gate.url}/metrics").text
        match = re.search(r"^gate_bytes_zerocopy_total (\d+)$", text, re.M)
        assert match is not None, text
        value = int(match.group(1))
        if expected is None or value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def get(gate: ServerThread, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{gate.url}/{REPO}/resolve/main/{FILE}", headers={**AUTH, **(headers or {})})


def test_second_download_is_zero_copy_and_identical(gate: ServerThread, repos: Repos) -> None:
    data = repos.files[REPO][FILE]
    first = get(gate)
    assert first.status_code == 200 and first.content == data
    assert zerocopy_bytes(gate) == 0  # first sight: hashed on the way, then remembered
    second = get(gate)
    assert second.status_code == 200 and second.content == data
    assert second.headers["content-length"] == str(len(data))
    assert "x-gate-receipt" in {k.lower() for k in second.headers} or second.headers.get(
        "x-request-id"
    )
    assert zerocopy_bytes(gate, len(data)) == len(data)
    # Keep-alive still works after a sendfile body: two more on one connection.
    with httpx.Client() as client:
        for _ in range(2):
            again = client.get(f"{gate.url}/{REPO}/resolve/main/{FILE}", headers=AUTH)
            assert again.content == data
    assert zerocopy_bytes(gate, 3 * len(data)) == 3 * len(data)


def test_ranges_of_a_verified_blob_are_zero_copy(gate: ServerThread, repos: Repos) -> None:
    data = repos.files[REPO][FILE]
    get(gate)
    before = zerocopy_bytes(gate)
    part = get(gate, {"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.content == data[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(data)}"
    tail = get(gate, {"Range": f"bytes={len(data) - 5}-"})
    assert tail.status_code == 206 and tail.content == data[-5:]
    assert zerocopy_bytes(gate, before + 95) == before + 95


@pytest.mark.parametrize("keep_mtime", [False, True])
def test_blob_corrupted_on_disk_is_hashed_again_and_refused(
    gate: ServerThread, repos: Repos, keep_mtime: bool
) -> None:
    data = repos.files[REPO][FILE]
    assert get(gate).content == data
    assert get(gate).content == data
    sent = zerocopy_bytes(gate, len(data))
    assert sent == len(data)
    blob = blob_path(repos.root, REPO, data)
    st = os.stat(blob)
    # Same size, same inode, last byte flipped; optionally the old mtime put back as well
    # (ctime cannot be put back, so the identity still changes).
    with open(blob, "r+b") as handle:
        handle.seek(len(data) - 1)
        handle.write(bytes([data[-1] ^ 0xFF]))
    if keep_mtime:
        os.utime(blob, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(blob).st_ino == st.st_ino and os.stat(blob).st_size == st.st_size
    with pytest.raises(httpx.HTTPError):
        response = get(gate)
        # Should the body arrive whole, it must not be the corrupted one passed off as good.
        assert response.content == data
    assert zerocopy_bytes(gate) == sent
    # Refused from now on (until restart), not sent zero-copy under the old verification.
    refused = get(gate)
    assert refused.status_code >= 500
    assert zerocopy_bytes(gate) == sent
