"""snapshot_download of a many-shard model through the gate, against a plain 8-thread downloader
fetching the same files from nginx (sendfile), in the same run.

Run: `.venv/bin/python benchmarks/bench_snapshot.py [--shards 50] [--shard-mib 8] [--rounds 2]`

The gate path is the real client end to end: `huggingface_hub.snapshot_download` (revision,
tree, then HEAD + GET per file on 8 threads, each decided, audited and streamed) writing its
cache. The baseline: 8 threads of `httpx` GETs of the same blobs from nginx, written to files.
The first gate round also verifies each blob (hashed once); later rounds send them zero-copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import (
    free_port,
    prepare_records,
    publish,
    start_gate,
    start_nginx,
    stop,
    wait_up,
)

from gate.hub.layout import write_snapshot

CARD = b"---\nlicense: apache-2.0\n---\n# published\n"


def plain_download(base: str, names: list[str], out: Path) -> float:
    out.mkdir(parents=True)
    began = time.perf_counter()
    with httpx.Client() as client:

        def one(name: str) -> None:
            with client.stream("GET", f"{base}/{name}") as response:
                response.raise_for_status()
                with open(out / name, "wb") as handle:
                    for chunk in response.iter_raw(1 << 20):
                        handle.write(chunk)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, names))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shards", type=int, default=50)
    parser.add_argument("--shard-mib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from huggingface_hub import snapshot_download

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        store, data_dir, static = tmp / "store", tmp / "gate-data", tmp / "static"
        token = prepare_records(data_dir)
        files = {
            f"model-{i:05d}-of-{args.shards:05d}.safetensors": os.urandom(args.shard_mib << 20)
            for i in range(args.shards)
        }
        write_snapshot(store, "bench/sharded", {**files, "README.md": CARD})
        publish(data_dir, "bench/sharded")
        static.mkdir()
        static.chmod(0o755)
        for name, data in files.items():
            (static / name).write_bytes(data)
        total_mib = args.shards * args.shard_mib
        gate_port, nginx_port = free_port(), free_port()
        gate = start_gate(store, data_dir, gate_port)
        nginx = start_nginx(static, tmp, nginx_port)
        try:
            wait_up(f"http://127.0.0.1:{gate_port}/healthz")
            gate_times: list[float] = []
            plain_times: list[float] = []
            for round_ in range(args.rounds + 1):
                cache = tmp / f"hf-{round_}"
                began = time.perf_counter()
                snapshot_download(
                    "bench/sharded",
                    endpoint=f"http://127.0.0.1:{gate_port}",
                    token=token,
                    cache_dir=cache,
                    max_workers=8,
                )
                secs = time.perf_counter() - began
                shutil.rmtree(cache)
                if round_ == 0:
                    print(f"gate first round (blobs verified on the way): {secs:6.2f} s")
                    continue
                gate_times.append(secs)
                if nginx is not None:
                    out = tmp / f"plain-{round_}"
                    plain_times.append(
                        plain_download(f"http://127.0.0.1:{nginx_port}", list(files), out)
                    )
                    shutil.rmtree(out)
            g = statistics.median(gate_times)
            line = f"{args.shards} shards, {total_mib} MiB: gate snapshot_download {g:6.2f} s"
            if plain_times:
                p = statistics.median(plain_times)
                line += f", plain 8-thread from nginx {p:6.2f} s: {p / g:4.2f}x (target >= 1.0x)"
            print(line)
        finally:
            stop(gate, nginx)


if __name__ == "__main__":
    main()
