"""Weights at the speed of the disk: the gate against nginx (sendfile) on the same blob.

Run: `.venv/bin/python benchmarks/bench_weights.py [--size-mib 2048] [--rounds 3]`

One blob in a local store, served by the real `gate serve` (default worker count) and by nginx
(sendfile on) from the same file, both on loopback; `curl` downloads to /dev/null (a client that
is not the bottleneck). Measured in the same run, alternating gate and nginx each round:
1. the gate's first download of the blob (hashed on the way, then remembered as verified);
2. one download at a time (later downloads go out with sendfile);
3. eight parallel downloads, aggregate;
4. the gate's peak resident memory per process while it streams.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import (
    free_port,
    peak_rss_mib,
    prepare_records,
    publish,
    reset_peak,
    start_gate,
    start_nginx,
    stop,
    wait_up,
)

from gate.hub.layout import write_snapshot


def curl_many(url: str, headers: dict[str, str], n: int) -> float:
    """Seconds for `n` parallel curl downloads of `url` to /dev/null (checks each is whole)."""
    args = ["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{size_download}\n"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    began = time.perf_counter()
    procs = [subprocess.Popen([*args, url], stdout=subprocess.PIPE) for _ in range(n)]
    sizes = [int(p.communicate()[0].decode().strip() or 0) for p in procs]
    secs = time.perf_counter() - began
    if any(p.returncode for p in procs):
        raise RuntimeError(f"curl failed on {url}")
    return secs if len(set(sizes)) == 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    mib = args.size_mib
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store, data_dir, static = tmp / "store", tmp / "gate-data", tmp / "static"
        token = prepare_records(data_dir)
        auth = {"Authorization": f"Bearer {token}"}
        static.mkdir()
        for readable in (tmp, static):  # nginx's workers run as another user
            readable.chmod(0o755)
        big = static / "big.bin"
        block = os.urandom(1 << 20)
        sha = hashlib.sha256()
        with open(big, "wb") as handle:
            for i in range(mib):
                chunk = block[i % 256 :] + block[: i % 256]
                handle.write(chunk)
                sha.update(chunk)
        digest = sha.hexdigest()
        folder = store / "models--bench--big"
        (folder / "blobs").mkdir(parents=True)
        os.link(big, folder / "blobs" / digest)  # the same inode: the same page cache
        commit = "b" * 40
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text(commit)
        (folder / "snapshots" / commit).mkdir(parents=True)
        (folder / "snapshots" / commit / "big.bin").symlink_to(f"../../blobs/{digest}")
        card = b"---\nlicense: apache-2.0\n---\n# published: the full decision path, allowed\n"
        write_snapshot(store, "bench/big", {"README.md": card}, commit=commit)
        publish(data_dir, "bench/big")

        gate_port, nginx_port = free_port(), free_port()
        gate = start_gate(store, data_dir, gate_port, args.workers)
        nginx = start_nginx(static, tmp, nginx_port)
        try:
            gate_url = f"http://127.0.0.1:{gate_port}/bench/big/resolve/main/big.bin"
            nginx_url = f"http://127.0.0.1:{nginx_port}/big.bin"
            wait_up(f"http://127.0.0.1:{gate_port}/healthz")
            # Classification on first sight and each worker's first (hashed) download.
            reset_peak(gate.pid)
            first = curl_many(gate_url, auth, 1)
            print(
                f"{mib} MiB blob, gate port {gate_port},"
                f" nginx {'absent' if nginx is None else nginx_port}"
            )
            print(f"first gate download (hashed, then verified): {mib / first:8.0f} MiB/s")
            for _ in range(4):  # every worker sees the blob once (connections spread)
                curl_many(gate_url, auth, 2)
            singles: dict[str, list[float]] = {"gate": [], "nginx": []}
            parallel: dict[str, list[float]] = {"gate": [], "nginx": []}
            for _ in range(args.rounds):
                singles["gate"].append(mib / curl_many(gate_url, auth, 1))
                if nginx is not None:
                    singles["nginx"].append(mib / curl_many(nginx_url, {}, 1))
                parallel["gate"].append(8 * mib / curl_many(gate_url, auth, 8))
                if nginx is not None:
                    parallel["nginx"].append(8 * mib / curl_many(nginx_url, {}, 8))
            rss = peak_rss_mib(gate.pid)
            for label, runs, target in (
                ("one download", singles, 0.9),
                ("8 parallel (aggregate)", parallel, 0.8),
            ):
                g = statistics.median(runs["gate"])
                line = f"{label:24}: gate {g:7.0f} MiB/s"
                if runs["nginx"]:
                    n = statistics.median(runs["nginx"])
                    pairs = [a / b for a, b in zip(runs["gate"], runs["nginx"], strict=True)]
                    line += (
                        f"  nginx {n:7.0f} MiB/s  ratio {g / n:4.2f}x"
                        f" (per round {', '.join(f'{p:.2f}' for p in pairs)}; target >= {target}x)"
                    )
                print(line)
            print(f"gate peak RSS per process: {rss:.0f} MiB (target < 200 MB)")
        finally:
            stop(gate, nginx)


if __name__ == "__main__":
    main()
