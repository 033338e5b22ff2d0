"""The verified upstream cache: a gate in upstream mode in front of a real upstream gate.

Every byte the front gate serves is decided and recorded first; the cache only changes where
the bytes come from. The upstream gate records every file GET it answers, which is how these
tests see whether a download was relayed or served from the cache.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

from gate.core.values import ModelFacts
from gate.errors import InputError
from gate.hub.blob_cache import BlobCache
from gate.hub.cached_upstream import CachingSource
from gate.hub.local import LocalStore
from gate.hub.source import FileEntry
from gate.hub.upstream import UpstreamSource
from gate.server.app import create_app
from gate.server.serve import build_source
from gate.server.settings import ServeSettings
from tests.server.conftest import Repos, ServerThread, StoreKeeper, add_repo, store_keeper
from tests.server.test_faults import DyingStore

ACME = {"Authorization": "Bearer tok-acme"}
BIG = "big.bin"  # lab/mystery's 3 MiB file: several chunks


@dataclass
class World:
    front: ServerThread
    upstream: ServerThread
    upstream_keeper: StoreKeeper
    source: CachingSource
    cache: BlobCache

    def relayed(self, path: str) -> int:
        """File GETs the upstream gate answered for `path` (each one a relay)."""
        return sum(
            1
            for _, ctx, _ in self.upstream_keeper.decisions
            if ctx.method == "GET" and ctx.path == path
        )

    def url(self, repo: str, path: str) -> str:
        return f"{self.front.url}/{repo}/resolve/main/{path}"

    def restart(self, keeper: StoreKeeper) -> None:
        """A new front worker over the same cache folder (nothing verified in its memory)."""
        self.front.__exit__(None, None, None)
        self.cache = BlobCache(self.cache.root, self.cache.max_bytes)
        inner = UpstreamSource(self.upstream.url, self.upstream_keeper.tokens["tok-proxy"])
        self.source = CachingSource(inner, self.cache)
        self.front = ServerThread(create_app(self.source, keeper)).__enter__()


class Tampering(UpstreamSource):
    """A real upstream reached through a man in the middle that flips one byte of big files."""

    async def open(
        self, repo_id: str, commit: str, entry: FileEntry, start: int, stop: int
    ) -> AsyncIterator[bytes]:
        async for chunk in super().open(repo_id, commit, entry, start, stop):
            if entry.size > 1 << 20 and len(chunk) > 10:
                chunk = chunk[:5] + bytes([chunk[5] ^ 1]) + chunk[6:]
            yield chunk


def _world(
    repos: Repos,
    keeper: StoreKeeper,
    tmp_path: Path,
    *,
    max_bytes: int = 10**9,
    upstream_store: type[LocalStore] = LocalStore,
    inner: type[UpstreamSource] = UpstreamSource,
) -> Iterator[World]:
    keeper.rule("lab/mystery", ModelFacts(repo_id="lab/mystery", published=True))
    upstream_keeper = store_keeper(
        tmp_path / "upstream-records",
        {r: ModelFacts(repo_id=r, published=True) for r in [*repos.files, "open/big"]},
    )
    with ServerThread(create_app(upstream_store(repos.root), upstream_keeper)) as upstream:
        cache = BlobCache(tmp_path / "cache", max_bytes)
        source = CachingSource(inner(upstream.url, upstream_keeper.tokens["tok-proxy"]), cache)
        world = World(
            ServerThread(create_app(source, keeper)).__enter__(),
            upstream,
            upstream_keeper,
            source,
            cache,
        )
        try:
            yield world
        finally:
            world.front.__exit__(None, None, None)
            upstream_keeper.store.close()


@pytest.fixture()
def world(repos: Repos, keeper: StoreKeeper, tmp_path: Path) -> Iterator[World]:
    yield from _world(repos, keeper, tmp_path)


def _cached(world: World) -> list[str]:
    return sorted(os.listdir(world.cache.blobs))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_second_recipient_is_served_from_the_cache(
    world: World, repos: Repos, keeper: StoreKeeper, tmp_path: Path
) -> None:
    data = repos.files["lab/mystery"][BIG]
    for n in (1, 2):
        got = hf_hub_download(
            "lab/mystery",
            BIG,
            endpoint=world.front.url,
            token="tok-acme",
            cache_dir=tmp_path / f"c{n}",
        )
        assert Path(got).read_bytes() == data
        assert _sha(data) in _cached(world)
    assert world.relayed(BIG) == 1  # the second download never reached the upstream
    assert world.source.served_from_cache == 1
    # Both were decided and recorded by the front gate, with a receipt each.
    decided = [a for _, ctx, a in keeper.decisions if ctx.path == BIG and ctx.method == "GET"]
    assert len(decided) == 2 and all(a.allowed for a in decided)
    assert len({a.decision_id for a in decided}) == 2


def test_a_cached_blob_goes_to_nobody_the_gate_refuses(
    world: World, repos: Repos, tmp_path: Path
) -> None:
    path = "model-00001-of-00002.safetensors"
    data = repos.files["lab/frontier"][path]
    got = httpx.get(world.url("lab/frontier", path), headers=ACME)  # a US recipient, at home
    assert got.status_code == 200 and got.content == data
    assert _sha(data) in _cached(world)
    with pytest.raises(GatedRepoError):
        hf_hub_download(
            "lab/frontier", path, endpoint=world.front.url, token="tok-dragon", cache_dir=tmp_path
        )
    refused = httpx.get(
        world.url("lab/frontier", path), headers={"Authorization": "Bearer tok-dragon"}
    )
    assert refused.status_code == 403 and data[-64:] not in refused.content


def test_two_repositories_sharing_a_blob_share_its_copy(
    world: World, repos: Repos, keeper: StoreKeeper
) -> None:
    data = repos.files["lab/mystery"][BIG]
    add_repo(repos.root, "open/big", {"weights.bin": data})
    keeper.rule("open/big", ModelFacts(repo_id="open/big", published=True))
    assert httpx.get(world.url("lab/mystery", BIG), headers=ACME).content == data
    assert httpx.get(world.url("open/big", "weights.bin"), headers=ACME).content == data
    assert world.relayed(BIG) == 1 and world.relayed("weights.bin") == 0
    assert _cached(world) == [_sha(data)]


def test_a_tampered_relay_is_cut_and_leaves_nothing(
    repos: Repos, keeper: StoreKeeper, tmp_path: Path
) -> None:
    for world in _world(repos, keeper, tmp_path, inner=Tampering):
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(world.url("lab/mystery", BIG), headers=ACME)
        assert _cached(world) == [] and os.listdir(world.cache.tmp) == []
        assert any("digest mismatch" in d for _, o, d in keeper.outcomes if o == "aborted")


@pytest.mark.slow
def test_an_upstream_dying_mid_relay_leaves_nothing(
    repos: Repos, keeper: StoreKeeper, tmp_path: Path
) -> None:
    add_repo(repos.root, "open/big", {"weights.bin": bytes(range(256)) * 4096 * 4})
    keeper.rule("open/big", ModelFacts(repo_id="open/big", published=True))
    for world in _world(repos, keeper, tmp_path, upstream_store=DyingStore):
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(world.url("open/big", "weights.bin"), headers=ACME)
        assert _cached(world) == [] and os.listdir(world.cache.tmp) == []
        aborted = [d for _, o, d in keeper.outcomes if o == "aborted"]
        assert aborted and "upstream" in aborted[0]


def test_ranges_do_not_fill_the_cache(world: World, repos: Repos) -> None:
    data = repos.files["lab/mystery"][BIG]
    url = world.url("lab/mystery", BIG)
    head = httpx.get(url, headers={**ACME, "Range": "bytes=0-99"})
    assert head.status_code == 206 and head.content == data[:100]
    tail = httpx.get(url, headers={**ACME, "Range": "bytes=1000000-"})  # a resume, checked
    assert tail.status_code == 206 and tail.content == data[1000000:]
    assert _cached(world) == [] and os.listdir(world.cache.tmp) == []


def test_ranges_of_a_verified_blob_come_from_the_cache(world: World, repos: Repos) -> None:
    data = repos.files["lab/mystery"][BIG]
    url = world.url("lab/mystery", BIG)
    assert httpx.get(url, headers=ACME).content == data
    for start, stop in ((0, 99), (1000000, len(data) - 1), (5, 2_000_000)):
        part = httpx.get(url, headers={**ACME, "Range": f"bytes={start}-{stop}"})
        assert part.status_code == 206 and part.content == data[start : stop + 1]
    assert world.relayed(BIG) == 1


def test_a_blob_edited_on_disk_is_never_served_as_good(
    world: World, repos: Repos, keeper: StoreKeeper
) -> None:
    data = repos.files["lab/mystery"][BIG]
    url = world.url("lab/mystery", BIG)
    assert httpx.get(url, headers=ACME).content == data
    blob = Path(world.cache.path(_sha(data)))
    edited = bytearray(data)
    edited[-5] ^= 0xFF  # same size; the last chunk is the one held back
    blob.write_bytes(bytes(edited))

    # A range of a blob whose identity changed is not trusted: it comes from the upstream.
    part = httpx.get(url, headers={**ACME, "Range": "bytes=0-99"})
    assert part.content == data[:100] and world.relayed(BIG) == 2
    # The whole file is read from disk, hashed, and cut before its last chunk.
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url, headers=ACME) as got:
        for chunk in got.iter_bytes():
            received += chunk
    assert 0 < len(received) < len(data)
    assert not blob.exists()
    aborted = [d for _, o, d in keeper.outcomes if o == "aborted"]
    assert aborted and "cached copy" in aborted[-1]
    # Not remembered as bad upstream: the next download relays afresh and is kept again.
    assert httpx.get(url, headers=ACME).content == data
    assert world.relayed(BIG) == 3 and blob.read_bytes() == data


def test_after_a_restart_a_kept_blob_is_hashed_once_then_trusted(
    world: World, repos: Repos, keeper: StoreKeeper
) -> None:
    data = repos.files["lab/mystery"][BIG]
    assert httpx.get(world.url("lab/mystery", BIG), headers=ACME).content == data
    world.restart(keeper)
    url = world.url("lab/mystery", BIG)
    # Not verified in this worker yet: a range goes upstream, a whole read is checked from disk.
    assert httpx.get(url, headers={**ACME, "Range": "bytes=0-9"}).content == data[:10]
    assert world.relayed(BIG) == 2
    assert httpx.get(url, headers=ACME).content == data
    assert httpx.get(url, headers={**ACME, "Range": "bytes=0-9"}).content == data[:10]
    assert world.relayed(BIG) == 2 and world.source.served_from_cache == 2


def test_eviction_keeps_the_cache_under_its_cap(
    repos: Repos, keeper: StoreKeeper, tmp_path: Path
) -> None:
    big = repos.files["lab/mystery"][BIG]
    model = repos.files["lab/mystery"]["model.safetensors"]
    for world in _world(repos, keeper, tmp_path, max_bytes=len(big) + len(model) - 1):
        assert (
            httpx.get(world.url("lab/mystery", "model.safetensors"), headers=ACME).content == model
        )
        assert _cached(world) == [_sha(model)]
        assert httpx.get(world.url("lab/mystery", BIG), headers=ACME).content == big
        assert _cached(world) == [_sha(big)]  # both would pass the cap: the older one went


def test_a_file_over_the_cap_is_relayed_not_kept(
    repos: Repos, keeper: StoreKeeper, tmp_path: Path
) -> None:
    big = repos.files["lab/mystery"][BIG]
    for world in _world(repos, keeper, tmp_path, max_bytes=len(big) - 1):
        for _ in range(2):
            assert httpx.get(world.url("lab/mystery", BIG), headers=ACME).content == big
        assert _cached(world) == [] and world.relayed(BIG) == 2


def test_off_by_default_and_only_for_an_upstream(tmp_path: Path) -> None:
    plain = build_source(ServeSettings(upstream="http://127.0.0.1:9"))
    assert isinstance(plain, UpstreamSource)
    cached = build_source(
        ServeSettings(upstream="http://127.0.0.1:9", upstream_cache=tmp_path / "cache")
    )
    assert isinstance(cached, CachingSource)
    assert cached.cache.max_bytes == ServeSettings.model_fields["upstream_cache_max_bytes"].default
    with pytest.raises(InputError, match="upstream"):
        build_source(ServeSettings(store=tmp_path, upstream_cache=tmp_path / "cache"))


def test_hub_errors_still_pass_through(world: World) -> None:
    missing = httpx.get(world.url("lab/mystery", "nope.bin"), headers=ACME)
    assert missing.status_code == 404 and missing.headers["x-error-code"] == "EntryNotFound"
    with pytest.raises(HfHubHTTPError):
        hf_hub_download("lab/nothing", "x", endpoint=world.front.url, token="tok-acme")


def test_two_workers_relaying_one_blob_at_once_keep_one_good_copy(
    world: World, repos: Repos, keeper: StoreKeeper
) -> None:
    """A second front gate over the same cache folder (another worker, its own memory)."""
    data = repos.files["lab/mystery"][BIG]
    other = CachingSource(
        UpstreamSource(world.upstream.url, world.upstream_keeper.tokens["tok-proxy"]),
        BlobCache(world.cache.root, world.cache.max_bytes),
    )
    with ServerThread(create_app(other, keeper)) as second:
        urls = [world.url("lab/mystery", BIG), f"{second.url}/lab/mystery/resolve/main/{BIG}"]
        with ThreadPoolExecutor(6) as pool:
            bodies = list(pool.map(lambda u: httpx.get(u, headers=ACME).content, urls * 3))
    assert all(body == data for body in bodies)
    assert _cached(world) == [_sha(data)] and os.listdir(world.cache.tmp) == []
    assert Path(world.cache.path(_sha(data))).read_bytes() == data
