"""The upstream cache's folder: what is kept, what is dropped, what is evicted, on real files."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from gate.errors import InputError
from gate.hub.blob_cache import BlobCache


def _blob(seed: int, size: int = 300_000) -> tuple[str, bytes]:
    data = hashlib.sha256(str(seed).encode()).digest() * (size // 32)
    return hashlib.sha256(data).hexdigest(), data


def _keep(cache: BlobCache, data: bytes, sha256: str | None = None, pieces: int = 3) -> bool:
    writer = cache.writer(sha256 or hashlib.sha256(data).hexdigest(), len(data))
    step = len(data) // pieces + 1
    for at in range(0, len(data), step):
        writer.write(data[at : at + step])
    return writer.commit()


def _leftovers(cache: BlobCache) -> list[str]:
    return sorted(os.listdir(cache.tmp))


def test_a_whole_matching_copy_is_kept_and_known_verified(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 10**9)
    sha, data = _blob(1)
    assert _keep(cache, data)
    assert Path(cache.path(sha)).read_bytes() == data
    assert _leftovers(cache) == []
    blob = cache.open(sha, len(data))
    assert blob is not None and blob.verified
    assert blob.read(0, len(data)) == data
    blob.close()


def test_a_mismatching_or_short_copy_leaves_nothing(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 10**9)
    sha, data = _blob(2)
    wrong = bytearray(data)
    wrong[-1] ^= 1
    assert not _keep(cache, bytes(wrong), sha)
    short = cache.writer(sha, len(data))
    short.write(data[:1000])
    assert not short.commit()
    aborted = cache.writer(sha, len(data))
    aborted.write(data)
    aborted.abort()  # the client went away: even a complete copy is not committed
    assert not aborted.commit()
    assert not Path(cache.path(sha)).exists()
    assert _leftovers(cache) == []
    assert cache.open(sha, len(data)) is None


def test_a_name_that_is_not_a_sha256_never_reaches_the_folder(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 10**9)
    for name in ("../../escape", "A" * 64, "0" * 63, ""):
        assert not cache.keeps(name, 10)
        with pytest.raises(ValueError):
            cache.path(name)
    assert not cache.keeps("0" * 64, 10**9 + 1)  # larger than the cap: relayed, not kept
    assert cache.keeps("0" * 64, 10**9)


def test_an_edited_blob_is_no_longer_verified(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 10**9)
    sha, data = _blob(3)
    assert _keep(cache, data)
    edited = bytearray(data)
    edited[7] ^= 1
    Path(cache.path(sha)).write_bytes(bytes(edited))  # same size, same name
    blob = cache.open(sha, len(data))
    assert blob is not None and not blob.verified
    blob.close()


def test_a_blob_of_another_size_is_dropped(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 10**9)
    sha, data = _blob(4)
    assert _keep(cache, data)
    with open(cache.path(sha), "ab") as handle:
        handle.write(b"x")
    assert cache.open(sha, len(data)) is None
    assert not Path(cache.path(sha)).exists() and os.listdir(cache.used) == []


def test_a_read_refuses_a_blob_changed_while_open(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 10**9)
    sha, data = _blob(5)
    assert _keep(cache, data)
    blob = cache.open(sha, len(data))
    assert blob is not None
    assert blob.read(0, 100) == data[:100]
    with open(cache.path(sha), "r+b") as handle:  # written in place: same inode, new ctime
        handle.write(b"\0")
    with pytest.raises(OSError, match="changed"):
        blob.read(100, 100)
    blob.close()


def test_eviction_removes_the_least_recently_used(tmp_path: Path) -> None:
    size = 300_000
    cache = BlobCache(tmp_path / "cache", int(size * 2.5))
    (a, data_a), (b, data_b), (c, data_c) = _blob(10), _blob(11), _blob(12)
    assert _keep(cache, data_a) and _keep(cache, data_b)
    used = cache.open(a, size)  # a is used after b was kept: b is now the least recent
    assert used is not None
    used.close()
    assert _keep(cache, data_c)
    assert sorted(os.listdir(cache.blobs)) == sorted([a, c])
    assert cache.open(b, size) is None
    assert sorted(os.listdir(cache.used)) == sorted([a, c])
    assert sum(p.stat().st_size for p in cache.blobs.iterdir()) <= cache.max_bytes


def test_two_relays_of_one_blob_at_once_keep_one_good_copy(tmp_path: Path) -> None:
    """Two workers (two caches on one folder) writing the same blob in interleaved pieces."""
    first, second = BlobCache(tmp_path / "cache", 10**9), BlobCache(tmp_path / "cache", 10**9)
    sha, data = _blob(20, 3_000_000)
    writers = [first.writer(sha, len(data)), second.writer(sha, len(data))]
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def relay(index: int) -> None:
        writer = writers[index]
        for at in range(0, len(data), 65536):
            writer.write(data[at : at + 65536])
        barrier.wait()  # both complete before either commits: a real tie
        results.append(writer.commit())

    threads = [threading.Thread(target=relay, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert Path(first.path(sha)).read_bytes() == data
    assert _leftovers(first) == []


def test_a_stale_temporary_file_is_swept_at_start(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 10**9)
    dead = cache.tmp / "0123456789abcdef.dead.part"
    dead.write_bytes(b"half a relay")
    os.utime(dead, (1, 1))  # a relay whose process died long ago
    live = cache.writer(_blob(30)[0], 10)
    BlobCache(tmp_path / "cache", 10**9)  # another worker starts
    assert _leftovers(cache) == [os.path.basename(live.temp)]
    live.abort()


def test_an_unusable_folder_is_a_clear_error(tmp_path: Path) -> None:
    taken = tmp_path / "file"
    taken.write_text("not a folder")
    with pytest.raises(InputError, match="upstream_cache"):
        BlobCache(taken, 10**9)


def test_a_planted_link_is_never_read(tmp_path: Path) -> None:
    """A name planted in the folder (a symlink or a hard link to another of the gate's files)
    is not a blob the gate kept: it is not opened, and it is removed."""
    cache = BlobCache(tmp_path / "cache", 10**9)
    secret = tmp_path / "signing.key"
    secret.write_bytes(b"k" * 1000)
    sha, _ = _blob(40)
    Path(cache.path(sha)).symlink_to(secret)
    assert cache.open(sha, 1000) is None
    assert not os.path.lexists(cache.path(sha)) and secret.exists()
    os.link(secret, cache.path(sha))
    assert cache.open(sha, 1000) is None
    assert not os.path.lexists(cache.path(sha)) and secret.read_bytes() == b"k" * 1000
