"""A ref moved in place is followed at once, whatever its file's mtime says.

The local store reads a ref file again only when its stat changes. A ref is rewritten in place
(`huggingface_hub` writes the new 40-hex commit over the old one: same inode, same size), so
only the times tell; an mtime can be set back (`os.utime`, `touch -d`, a copy tool keeping
times) and two writes can land in the same timestamp tick. The ctime cannot be set back and
moves with every write and every utime, so it is part of what is compared.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio

from gate.hub.local import LocalStore, repo_folder
from tests.server.conftest import add_repo


def test_a_ref_rewritten_in_place_with_its_old_mtime_is_read_again(tmp_path: Path) -> None:
    first = add_repo(tmp_path, "org/model", {"config.json": b"{}"}, refs=("main",))
    second = add_repo(tmp_path, "org/model", {"config.json": b"{}"}, refs=(), commit="b" * 40)
    source = LocalStore(tmp_path)
    ref = tmp_path / repo_folder("org/model") / "refs" / "main"
    assert first != second and ref.read_text() == first

    async def commit_of_main() -> str:
        return (await source.resolve("org/model", "main")).commit

    assert anyio.run(commit_of_main) == first
    before = os.stat(ref)
    with open(ref, "r+", encoding="ascii") as handle:  # in place, as the hub client writes
        handle.write(second)
    os.utime(ref, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(ref)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert anyio.run(commit_of_main) == second
