"""Decided requests against the same server's /healthz, with wrk (a load generator in C).

Run: `.venv/bin/python benchmarks/bench_decided.py [--seconds 5] [--workers N]`

The real `gate serve` (default worker count unless --workers) over a local store and SQLite
records. For 64 and 200 connections, in the same run: `/healthz` (the framework's own rate, the
baseline), then three decided requests, each authenticated, decided, audited and logged:
- GET config.json of a published model (allowed; a small file, so wrk reads a body, which it
  cannot for HEAD),
- GET config.json of an unpublished model (allowed, not parameters),
- GET model.safetensors of a model with unknown facts (a refusal: 403 with the hold's reason).
Prints requests/s, the ratio to /healthz (target >= 0.5x) and p99 (target <= 50 ms at 200).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import free_port, peak_rss_mib, prepare_records, start_gate, stop, wait_up

from gate.hub.layout import write_snapshot

CARD = b"---\nlicense: apache-2.0\n---\n# published\n"
LUA = """wrk.headers["Authorization"] = "Bearer {token}"
"""


def wrk(url: str, connections: int, seconds: int, script: Path | None) -> tuple[float, float, int]:
    """(requests/s, p99 ms, non-2xx/3xx count) of wrk against `url`."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, p99_ms, int(bad.group(1)) if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): cannot run this benchmark")
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store, data_dir = tmp / "store", tmp / "gate-data"
        token = prepare_records(data_dir)
        script = tmp / "auth.lua"
        script.write_text(LUA.format(token=token))
        write_snapshot(store, "open/small", {"README.md": CARD, "config.json": b'{"a": 1}'})
        write_snapshot(
            store,
            "lab/closed",
            {"config.json": b'{"a": 2}', "model.safetensors": b"\0" * 4096},
        )
        port = free_port()
        gate = start_gate(store, data_dir, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_up(f"{base}/healthz")
            auth = {"Authorization": f"Bearer {token}"}
            routes = {
                "GET config.json (published)": f"{base}/open/small/resolve/main/config.json",
                "GET config.json (closed)": f"{base}/lab/closed/resolve/main/config.json",
                "GET weights (refused)": f"{base}/lab/closed/resolve/main/model.safetensors",
            }
            for url in routes.values():  # classification on first sight, in every worker
                for _ in range(8):
                    with httpx.Client() as client:
                        client.get(url, headers=auth)
            for connections in (64, 200):
                health, health_p99, _ = wrk(f"{base}/healthz", connections, args.seconds, None)
                print(
                    f"{connections} in flight: /healthz {health:8.0f} req/s"
                    f"  p99 {health_p99:6.1f} ms"
                )
                for label, url in routes.items():
                    rate, p99, bad = wrk(url, connections, args.seconds, script)
                    print(
                        f"  {label:28} {rate:8.0f} req/s  {rate / health:4.2f}x /healthz"
                        f"  p99 {p99:6.1f} ms  (non-2xx {bad})"
                    )
            print(f"gate peak RSS per process: {peak_rss_mib(gate.pid):.0f} MiB")
        finally:
            stop(gate)


if __name__ == "__main__":
    main()
