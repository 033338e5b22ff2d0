"""An upstream file relayed against the same file served from the verified upstream cache.

Run: `.venv/bin/python benchmarks/bench_upstream_cache.py [--size-mib 256] [--rounds 3]`

Three real `gate serve` processes on loopback: an upstream gate over a local store holding one
blob, and two front gates in upstream mode in front of it, one plain and one with
`--upstream-cache` (one worker each, so the worker that keeps the blob is the one asked next).
`curl` downloads to /dev/null. Each round, measured in the same run:
1. plain relay (the baseline): the plain front relays the file, hashing it on the way;
2. relay and keep: the caching front, its cache emptied first, relays and writes the copy;
3. from the cache: the caching front again, the upstream not asked for the bytes.
Every download is decided and recorded by the front it goes through.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_weights import curl_many
from benchlib import PASSPHRASE, free_port, prepare_records, publish, stop, wait_up

from gate.hub.layout import write_snapshot


def start(data_dir: Path, port: int, *source: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATE_DATA_DIR": str(data_dir),
        "GATE_KEY_PASSPHRASE": PASSPHRASE,
        "GATE_LOG_LEVEL": "WARNING",
    }
    env.pop("GATE_DATABASE_URL", None)
    gate = Path(sys.executable).with_name("gate")
    cmd = [str(gate), "serve", *source, "--port", str(port), "--workers", "1"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mib = args.size_mib
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store, cache = tmp / "store", tmp / "cache"
        up_dir, plain_dir, cached_dir = tmp / "upstream", tmp / "plain", tmp / "cached"
        upstream_token = prepare_records(up_dir)
        tokens = [prepare_records(plain_dir), prepare_records(cached_dir)]
        block = os.urandom(1 << 20)
        sha = hashlib.sha256()
        data = bytearray()
        for i in range(mib):
            chunk = block[i % 256 :] + block[: i % 256]
            data += chunk
            sha.update(chunk)
        card = b"---\nlicense: apache-2.0\n---\n# published\n"
        write_snapshot(store, "bench/big", {"README.md": card, "big.bin": bytes(data)})
        del data
        for folder in (up_dir, plain_dir, cached_dir):
            publish(folder, "bench/big")

        ports = [free_port() for _ in range(3)]
        upstream = start(up_dir, ports[0], "--store", str(store))
        up_url = f"http://127.0.0.1:{ports[0]}"
        env_token = ("--upstream-token", upstream_token)
        plain = start(plain_dir, ports[1], "--upstream", up_url, *env_token)
        cached = start(
            cached_dir, ports[2], "--upstream", up_url, *env_token, "--upstream-cache", str(cache)
        )
        try:
            for port in ports:
                wait_up(f"http://127.0.0.1:{port}/healthz")
            urls = [f"http://127.0.0.1:{p}/bench/big/resolve/main/big.bin" for p in ports[1:]]
            auths = [{"Authorization": f"Bearer {t}"} for t in tokens]
            # Classification on first sight, the upstream's own first (hashed) read.
            curl_many(urls[0], auths[0], 1)
            curl_many(urls[1], auths[1], 1)
            blob = cache / "blobs" / sha.hexdigest()
            assert blob.exists(), "the caching front kept nothing"
            runs: dict[str, list[float]] = {"relay": [], "keep": [], "cache": []}
            for _ in range(args.rounds):
                runs["relay"].append(mib / curl_many(urls[0], auths[0], 1))
                shutil.rmtree(cache / "blobs")
                (cache / "blobs").mkdir()
                runs["keep"].append(mib / curl_many(urls[1], auths[1], 1))
                assert blob.exists(), "the relay was not kept"
                runs["cache"].append(mib / curl_many(urls[1], auths[1], 1))
            base = statistics.median(runs["relay"])
            print(f"{mib} MiB file, {args.rounds} rounds, medians (MiB/s), same run:")
            for key, label in (
                ("relay", "relay (no cache, baseline)"),
                ("keep", "relay and keep (cache on)"),
                ("cache", "served from the cache"),
            ):
                value = statistics.median(runs[key])
                each = ", ".join(f"{v:.0f}" for v in runs[key])
                print(f"  {label:28} {value:7.0f}   x{value / base:4.2f}   ({each})")
        finally:
            stop(plain, cached, upstream)


if __name__ == "__main__":
    main()
