"""A real store-backed gate over the demo's world, for tests that follow bytes end to end.

The demo's models, keys, recipients (Nordic AI AB in Sweden, Shenzhen Vision Co in China, ...)
and records in SQLite, served on loopback by `gate serve`'s own app; tests add repositories to
`world.store_dir` before starting it. Helpers check what a recipient gets, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError

from gate.demo.scenario import DemoWorld, build_world, seed_records
from gate.server.background import BackgroundServer
from gate.server.serve import build_gate


def make_world(tmp_path: Path) -> DemoWorld:
    """The demo's world under `tmp_path`, its records in SQLite there."""
    return build_world(tmp_path / "world", f"sqlite:///{tmp_path / 'gate.db'}")


@contextmanager
def running(world: DemoWorld, **settings: Any) -> Iterator[tuple[str, dict[str, str], Any]]:
    gate = build_gate(world.settings.model_copy(update=settings))
    seed_records(world, gate.store)
    try:
        with BackgroundServer(gate.app) as server:
            yield server.url, world.tokens, gate.store
    finally:
        gate.close()


def decision(url: str, token: str, repo: str, path: str) -> tuple[int, str]:
    """(status, "verdict; basis") of a GET of the whole file (its body left unread)."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{url}/{repo}/resolve/main/{path}", headers=auth) as response:
        if response.status_code == 403:
            response.read()
            body = response.json()
            return 403, f"{body['verdict']}; {body['basis']}"
        return response.status_code, response.headers.get("X-Gate-Decision", "")


def assert_held_without_a_byte(
    url: str, token: str, repo: str, files: dict[str, bytes], weights: tuple[str, ...], tmp: Path
) -> None:
    """Every way of asking for the weight files gives no slice of them; the rest still flows."""
    for path in weights:
        data = files[path]
        # The safetensors header window (architecture) may be shown; the tensors after it not.
        start = 8 + int.from_bytes(data[:8], "little") if path.endswith(".safetensors") else 0
        step = max(1, (len(data) - start) // 9)
        slices = [data[i : i + 48] for i in range(start, len(data) - 48, step)]
        assert slices
        auth = {"Authorization": f"Bearer {token}"}
        for ranged in (None, "bytes=0-", "bytes=1000-"):
            headers = {**auth, **({"Range": ranged} if ranged else {})}
            body = httpx.get(f"{url}/{repo}/resolve/main/{path}", headers=headers).content
            assert not any(piece in body for piece in slices), (path, ranged)
        with pytest.raises(GatedRepoError):
            hf_hub_download(repo, path, endpoint=url, token=token, cache_dir=tmp / "held")
    for path in ("config.json", "tokenizer.json", "README.md"):
        got = hf_hub_download(repo, path, endpoint=url, token=token, cache_dir=tmp / "held")
        assert Path(got).read_bytes() == files[path]


def assert_whole(url: str, token: str, repo: str, files: dict[str, bytes], tmp: Path) -> None:
    for path, data in files.items():
        got = hf_hub_download(repo, path, endpoint=url, token=token, cache_dir=tmp / "ok")
        assert Path(got).read_bytes() == data, (repo, path)
