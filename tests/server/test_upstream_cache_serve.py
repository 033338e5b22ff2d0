"""`gate serve --upstream-cache` as a process: it starts and says so, or refuses a store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gate.demo.scenario import DEMO_PASSPHRASE, build_world
from tests.server.conftest import wait_until_ready

pytestmark = pytest.mark.slow

GATE = Path(sys.executable).with_name("gate")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATE_")}
    env.update(GATE_DATA_DIR=str(workdir), GATE_KEY_PASSPHRASE=DEMO_PASSPHRASE)
    return env


def test_serve_with_an_upstream_cache_starts_and_names_it(tmp_path: Path) -> None:
    world = build_world(tmp_path / "world")
    upstream_port, port = _free_port(), _free_port()
    env = _env(world.workdir)
    upstream = subprocess.Popen(
        [str(GATE), "serve", "--store", str(world.store_dir), "--port", str(upstream_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cache = tmp_path / "cache"
    front = subprocess.Popen(
        [
            str(GATE), "serve", "--upstream", f"http://127.0.0.1:{upstream_port}",
            "--upstream-cache", str(cache), "--upstream-cache-max-bytes", "1000000",
            "--port", str(port), "--workers", "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_until_ready(front, port)
    finally:
        front.terminate()
        upstream.terminate()
        _, err = front.communicate(timeout=30)
        upstream.wait(30)
    assert f"(cache {cache.resolve()}, at most 1000000 bytes)" in err.splitlines()[0]
    assert sorted(p.name for p in cache.iterdir()) == ["blobs", "tmp", "used"]


def test_serve_refuses_an_upstream_cache_for_a_store(tmp_path: Path) -> None:
    world = build_world(tmp_path / "world")
    done = subprocess.run(
        [
            str(GATE), "serve", "--store", str(world.store_dir),
            "--upstream-cache", str(tmp_path / "cache"), "--port", str(_free_port()),
        ],
        env=_env(world.workdir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "upstream cache needs --upstream" in done.stderr
    assert not (tmp_path / "cache").exists()
