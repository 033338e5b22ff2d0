"""What the gate's benchmarks share: a store on disk, records with a token, `gate serve` and
nginx in child processes on loopback ports, and resident-memory readings.

nginx is the baseline for bytes (sendfile on, the same files, the same loopback). When it is not
installed the benchmarks say so and measure the gate alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def prepare_records(data_dir: Path) -> str:
    """A key ring and one US recipient with a token, as an operator would set them up."""
    from gate.crypto.keys import KeyRing
    from gate.store import credentials, recipients
    from gate.store.db import open_store

    KeyRing(data_dir / "keys").init(PASSPHRASE)
    store = open_store(f"sqlite:///{data_dir / 'gate.db'}")
    try:
        recipients.add(
            store,
            "acme",
            actor="bench",
            name="Acme Labs",
            headquarters="US",
            parent="self",
            destinations=["US"],
            default_destination="US",
        )
        token, _ = credentials.create_token(store, "acme", actor="bench")
    finally:
        store.close()
    return token


def publish(data_dir: Path, repo_id: str) -> None:
    """The operator's record that a model is published (so its weights are allowed)."""
    from gate.store import models
    from gate.store.db import open_store

    store = open_store(f"sqlite:///{data_dir / 'gate.db'}")
    try:
        models.classify(
            store,
            repo_id,
            actor="bench",
            reason="benchmark model",
            published=True,
            publication_evidence="operator record",
        )
    finally:
        store.close()


def start_gate(
    store: Path, data_dir: Path, port: int, workers: int | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATE_DATA_DIR": str(data_dir),
        "GATE_KEY_PASSPHRASE": PASSPHRASE,
        # The default level: one JSON line per decided request, as a deployment logs them
        # (written to /dev/null here, so the disk is not what is measured).
        "GATE_LOG_LEVEL": "INFO",
    }
    env.pop("GATE_DATABASE_URL", None)
    gate = Path(sys.executable).with_name("gate")
    cmd = [str(gate), "serve", "--store", str(store), "--port", str(port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_nginx(root: Path, tmp: Path, port: int) -> subprocess.Popen[bytes] | None:
    """nginx serving `root` with sendfile on a loopback port, or None (and a note) without it."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        print("nginx is not installed (apt-get install nginx): no nginx baseline in this run")
        return None
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
worker_processes auto;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""
    )
    process = subprocess.Popen(
        [binary, "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_up(f"http://127.0.0.1:{port}/")
    return process


def tree_pids(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's workers are children of the supervisor)."""
    out = [pid]
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for word in child.read_text().split():
            out += tree_pids(int(word))
    return out


def _status(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mib(pid: int) -> float:
    """The largest peak resident set of any process in the tree (each worker is separate)."""
    return max(_status(p, "VmHWM:") for p in tree_pids(pid))


def reset_peak(pid: int) -> None:
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as handle:
                handle.write("5")  # resets VmHWM (Linux >= 4.0)
        except OSError:
            pass


def stop(*processes: subprocess.Popen[bytes] | None) -> None:
    for process in processes:
        if process is not None:
            process.terminate()
    for process in processes:
        if process is not None:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
