"""`gate serve` as a real subprocess over a demo world: what the fuzz, memory and
forwarded-header tests run against (they measure or configure the server process itself)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from gate.demo.scenario import DEMO_PASSPHRASE, DemoWorld


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gate_env(world: DemoWorld, **extra: str) -> dict[str, str]:
    """The environment `gate serve` needs for the world's records and keys, plus `extra`."""
    env = {
        **os.environ,
        "GATE_DATA_DIR": str(world.workdir),
        "GATE_KEY_PASSPHRASE": DEMO_PASSPHRASE,
        "GATE_TRUSTED_DECLARER_KEYS": json.dumps(
            [str(p) for p in world.settings.trusted_declarer_keys]
        ),
        **extra,
    }
    env.pop("GATE_DATABASE_URL", None)
    if "GATE_TRUSTED_PROXIES" not in extra:
        env.pop("GATE_TRUSTED_PROXIES", None)
    return env


def gate_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("gate")), *args]


@contextmanager
def serving(world: DemoWorld, *args: str, **extra: str) -> Iterator[tuple[str, int]]:
    """`gate serve ARGS --port P` until the block ends: yields (url, pid of the server)."""
    port = free_port()
    process = subprocess.Popen(
        gate_command("serve", *args, "--port", str(port)),
        env=gate_env(world, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"gate serve {' '.join(args)} did not start")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def peak_rss_bytes(pid: int) -> int:
    """The most resident memory a process has held so far (VmHWM), from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")
