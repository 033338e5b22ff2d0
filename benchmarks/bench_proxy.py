"""Proxy benchmark: throughput against a plain static server, HEAD latency, many downloads.

Run: `.venv/bin/python benchmarks/bench_proxy.py [--size-mib 2048] [--skip-many]`

Everything runs on loopback in this process's children, measured in the same run:
1. one big file through the gate (decision, streaming sha256 check) versus the same file from
   Python's `http.server` (the baseline), and the gate's peak RSS while it streams;
2. HEAD /resolve with 200 requests in flight (p50, p99), and one at a time as the baseline;
3. 100 concurrent downloads of 50 MB files (10 files, 10 downloads each): byte-identical, and the
   gate's peak RSS.

The gate is the real `gate serve` in a child process: token lookup in the records store (SQLite,
WAL), classification on first sight, the decision, a signed receipt and an audit-chain append
per request, and the streaming sha256 check.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import (  # noqa: E402  (the benchmarks' shared helpers, beside this script)
    free_port,
    peak_rss_mib,
    prepare_records,
    reset_peak,
    start_gate,
    wait_up,
)

from gate.hub.layout import write_snapshot as add_repo  # noqa: E402


def download(url: str, headers: dict[str, str]) -> tuple[float, str, int]:
    digest = hashlib.sha256()
    size = 0
    began = time.perf_counter()
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return time.perf_counter() - began, digest.hexdigest(), size


async def head_latencies(
    url: str, headers: dict[str, str], total: int, inflight: int
) -> list[float]:
    limits = httpx.Limits(max_connections=inflight, max_keepalive_connections=inflight)
    latencies: list[float] = []
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(inflight)

        async def one() -> None:
            async with semaphore:
                began = time.perf_counter()
                response = await client.head(url, headers=headers)
                latencies.append(time.perf_counter() - began)
                assert response.status_code == 200, response.status_code

        await asyncio.gather(*(one() for _ in range(total)))
    return sorted(latencies)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--skip-many", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        data_dir = Path(tmp) / "gate-data"
        auth = {"Authorization": f"Bearer {prepare_records(data_dir)}"}
        card = b"---\nlicense: apache-2.0\n---\n# published: the full decision path, allowed\n"
        big = Path(tmp) / "static" / "big.bin"
        big.parent.mkdir(parents=True)
        block = os.urandom(1 << 20)
        with open(big, "wb") as handle:
            for _ in range(args.size_mib):
                handle.write(block)
        data_sha = hashlib.sha256()
        with open(big, "rb") as handle:
            while chunk := handle.read(1 << 24):
                data_sha.update(chunk)
        folder = store / "models--bench--big"
        (folder / "blobs").mkdir(parents=True)
        os.link(big, folder / "blobs" / data_sha.hexdigest())
        commit = "b" * 40
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text(commit)
        (folder / "snapshots" / commit).mkdir(parents=True)
        (folder / "snapshots" / commit / "big.bin").symlink_to(
            f"../../blobs/{data_sha.hexdigest()}"
        )
        add_repo(store, "bench/big", {"README.md": card}, commit=commit)

        many = {
            f"part-{i}.bin": os.urandom(50 * 1000 * 1000)
            for i in range(0 if args.skip_many else 10)
        }
        if many:
            add_repo(store, "bench/many", {**many, "README.md": card})

        static_port, gate_port = free_port(), free_port()
        static = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1"],
            cwd=big.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        gate = start_gate(store, data_dir, gate_port)
        try:
            wait_up(f"http://127.0.0.1:{static_port}/")
            wait_up(f"http://127.0.0.1:{gate_port}/healthz")
            gate_url = f"http://127.0.0.1:{gate_port}"
            # -- 1. throughput ------------------------------------------------------------
            secs_static, sha_static, _ = download(f"http://127.0.0.1:{static_port}/big.bin", {})
            reset_peak(gate.pid)
            secs_gate, sha_gate, _ = download(f"{gate_url}/bench/big/resolve/main/big.bin", auth)
            rss = peak_rss_mib(gate.pid)
            mib = args.size_mib
            assert sha_static == sha_gate == data_sha.hexdigest()
            print(f"throughput, {mib} MiB file:")
            print(f"  plain http.server : {mib / secs_static:8.1f} MiB/s")
            print(
                f"  gate              : {mib / secs_gate:8.1f} MiB/s"
                f"  ({secs_static / secs_gate:.2f}x the plain server; target >= 0.8x)"
            )
            print(f"  gate peak RSS     : {rss:8.1f} MiB (target < 200 MB)")
            # -- 2. HEAD latency ----------------------------------------------------------
            url = f"{gate_url}/bench/big/resolve/main/big.bin"
            asyncio.run(head_latencies(url, auth, 200, 200))  # warm-up
            heads = asyncio.run(head_latencies(url, auth, 2000, 200))
            print("HEAD /resolve, 2000 requests, 200 in flight:")
            print(
                f"  p50 {pct(heads, 0.5):7.1f} ms   p99 {pct(heads, 0.99):7.1f} ms"
                " (target p99 <= 10 ms)"
            )
            single = asyncio.run(head_latencies(url, auth, 200, 1))
            print(
                f"  one at a time: p50 {pct(single, 0.5):5.2f} ms   p99 {pct(single, 0.99):5.2f} ms"
            )
            # -- 3. many downloads --------------------------------------------------------
            if many:
                reset_peak(gate.pid)
                expected = {p: hashlib.sha256(d).hexdigest() for p, d in many.items()}
                jobs = [p for p in many for _ in range(10)]

                async def fetch_all() -> list[tuple[str, str]]:
                    limits = httpx.Limits(max_connections=100)
                    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

                        async def one(path: str) -> tuple[str, str]:
                            digest = hashlib.sha256()
                            async with client.stream(
                                "GET", f"{gate_url}/bench/many/resolve/main/{path}", headers=auth
                            ) as response:
                                async for chunk in response.aiter_raw(1 << 20):
                                    digest.update(chunk)
                            return path, digest.hexdigest()

                        return await asyncio.gather(*(one(p) for p in jobs))

                began = time.perf_counter()
                results = asyncio.run(fetch_all())
                secs = time.perf_counter() - began
                identical = sum(expected[p] == h for p, h in results)
                print("100 concurrent downloads of 50 MB files:")
                print(
                    f"  {identical}/100 byte-identical, {5000 / secs:.1f} MB/s aggregate,"
                    f" gate peak RSS {peak_rss_mib(gate.pid):.1f} MiB"
                )
        finally:
            gate.terminate()
            static.terminate()
            gate.wait(10)
            static.wait(10)


if __name__ == "__main__":
    main()
