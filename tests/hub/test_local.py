"""The local store over a real HF-cache folder: revisions, listings, digests, containment."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import anyio
import pytest

from gate.hub.local import LocalStore, repo_folder
from gate.hub.source import EntryNotFound, RepoNotFound, RevisionNotFound, git_blob_oid
from tests.server.conftest import add_repo, safetensors_bytes

FILES = {"config.json": b'{"a": 1}', "model.safetensors": safetensors_bytes(7), "d/e.txt": b"e"}


@pytest.fixture()
def store(tmp_path: Path) -> tuple[LocalStore, str]:
    commit = add_repo(tmp_path, "Org/Model", FILES, refs=("main", "refs/pr/1"))
    return LocalStore(tmp_path), commit


def test_resolve(store: tuple[LocalStore, str]) -> None:
    source, commit = store

    async def main() -> None:
        for repo, rev in (("Org/Model", "main"), ("org/model", "refs/pr/1"), ("ORG/MODEL", commit)):
            resolved = await source.resolve(repo, rev)
            assert (resolved.repo_id, resolved.commit) == ("Org/Model", commit)
        with pytest.raises(RevisionNotFound):
            await source.resolve("Org/Model", "../../etc")
        with pytest.raises(RevisionNotFound):
            await source.resolve("Org/Model", "nope")
        with pytest.raises(RepoNotFound):
            await source.resolve("Org/Other", "main")
        with pytest.raises(RepoNotFound):
            await source.resolve("Org/../Model", "main")

    anyio.run(main)


def test_listing_and_digests(store: tuple[LocalStore, str]) -> None:
    source, commit = store

    async def main() -> None:
        files = await source.list_files("Org/Model", commit)
        assert [f.path for f in files] == sorted(FILES)
        by_path = {f.path: f for f in files}
        for path, data in FILES.items():
            entry = by_path[path]
            assert entry.size == len(data)
            assert entry.sha256 == hashlib.sha256(data).hexdigest()
            body = b"".join(
                [c async for c in source.open("Org/Model", commit, entry, 0, entry.size)]
            )
            assert body == data
        assert by_path["model.safetensors"].lfs
        assert by_path["config.json"].git_oid == git_blob_oid(FILES["config.json"])
        part = b"".join(
            [c async for c in source.open("Org/Model", commit, by_path["d/e.txt"], 0, 1)]
        )
        assert part == b"e"
        with pytest.raises(EntryNotFound):
            await source.file("Org/Model", commit, "../refs/main")

    anyio.run(main)


def test_links_leaving_the_repository_are_not_listed(tmp_path: Path) -> None:
    commit = add_repo(tmp_path / "s", "org/m", {"config.json": b"{}"})
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside")
    snapshot = tmp_path / "s" / repo_folder("org/m") / "snapshots" / commit
    os.symlink(secret, snapshot / "leak.txt")
    source = LocalStore(tmp_path / "s")

    async def main() -> None:
        paths = [f.path for f in await source.list_files("org/m", commit)]
        assert paths == ["config.json"]
        with pytest.raises(EntryNotFound):
            await source.file("org/m", commit, "leak.txt")

    anyio.run(main)
