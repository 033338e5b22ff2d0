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

from gate.core.values import ModelFacts
from gate.hub.layout import write_snapshot
from gate.server.zerocopy import SMALL
from tests.server.conftest import Repos, ServerThread, StoreKeeper, blob_path, safetensors_bytes

FILE = "model.safetensors"
AUTH = {"Authorization": "Bearer tok-acme"}
REPO = "open/small"


@pytest.fixture(params=["small", "large"])
def repo(request: pytest.FixtureRequest, repos: Repos, keeper: StoreKeeper) -> str:
    """A published model whose weights are small (read and kept in memory, one body) or large
    (sent with sendfile from a worker thread): both are zero-copy, by different paths."""
    if request.param == "small":
        return REPO
    data = safetensors_bytes(3, n=40_000)  # about 640 KB
    assert len(data) > SMALL
    write_snapshot(repos.root, "open/large", {FILE: data, "README.md": b"# large\n"})
    repos.files["open/large"] = {FILE: data}
    facts = ModelFacts(repo_id="open/large", published=True, publication_evidence="mit")
    keeper.rule("open/large", facts)
    return "open/large"


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


def get(
    gate: ServerThread, repo: str = REPO, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.get(f"{gate.url}/{repo}/resolve/main/{FILE}", headers={**AUTH, **(headers or {})})


def test_second_download_is_zero_copy_and_identical(
    gate: ServerThread, repos: Repos, repo: str
) -> None:
    data = repos.files[repo][FILE]
    first = get(gate, repo)
    assert first.status_code == 200 and first.content == data
    assert zerocopy_bytes(gate) == 0  # first sight: hashed on the way, then remembered
    second = get(gate, repo)
    assert second.status_code == 200 and second.content == data
    assert second.headers["content-length"] == str(len(data))
    assert "x-gate-receipt" in {k.lower() for k in second.headers} or second.headers.get(
        "x-request-id"
    )
    assert zerocopy_bytes(gate, len(data)) == len(data)
    # Keep-alive still works after a sendfile body: two more on one connection.
    with httpx.Client() as client:
        for _ in range(2):
            again = client.get(f"{gate.url}/{repo}/resolve/main/{FILE}", headers=AUTH)
            assert again.content == data
    assert zerocopy_bytes(gate, 3 * len(data)) == 3 * len(data)


def test_ranges_of_a_verified_blob_are_zero_copy(
    gate: ServerThread, repos: Repos, repo: str
) -> None:
    data = repos.files[repo][FILE]
    get(gate, repo)
    before = zerocopy_bytes(gate)
    part = get(gate, repo, {"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.content == data[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(data)}"
    tail = get(gate, repo, {"Range": f"bytes={len(data) - 5}-"})
    assert tail.status_code == 206 and tail.content == data[-5:]
    assert zerocopy_bytes(gate, before + 95) == before + 95


@pytest.mark.parametrize("keep_mtime", [False, True])
def test_blob_corrupted_on_disk_is_hashed_again_and_refused(
    gate: ServerThread, repos: Repos, repo: str, keep_mtime: bool
) -> None:
    data = repos.files[repo][FILE]
    assert get(gate, repo).content == data
    assert get(gate, repo).content == data
    sent = zerocopy_bytes(gate, len(data))
    assert sent == len(data)
    blob = blob_path(repos.root, repo, data)
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
        response = get(gate, repo)
        # Should the body arrive whole, it must not be the corrupted one passed off as good.
        assert response.content == data
    assert zerocopy_bytes(gate) == sent
    # Refused from now on (until restart), not sent zero-copy under the old verification.
    refused = get(gate, repo)
    assert refused.status_code >= 500
    assert zerocopy_bytes(gate) == sent
