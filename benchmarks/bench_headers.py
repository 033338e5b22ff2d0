"""Header-only parameter counting: bytes read and wall time, remote (100 shards) and local.

Remote: a synthetic 100-shard model (about 0.27 TB of virtual BF16 weights; the server makes the
bytes up on demand) on a loopback Hugging Face-compatible server. Reports bytes read versus total
weight bytes and wall time for the parameter count, concurrent (the gate's reader) against a
sequential baseline measured in the same run.

Local: header parsing rate over many small safetensors files, against the safetensors library
(`safe_open` + shapes) as the baseline.

Run: .venv/bin/python benchmarks/bench_headers.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from gate.compute.pipeline import read_header
from gate.compute.reader import RepoFile
from gate.compute.safetensors_header import read_local_header
from gate.hub.upstream import UpstreamSource
from gate.rules.loader import load_default_ruleset
from gate.service.classifying import classify_target
from gate.service.readers import SourceReader
from tests.compute.fake_hub import FakeHub, serve
from tests.compute.test_classify import _sharded_repo

SHARDS = 100
LOCAL_FILES = 2000


async def _one_at_a_time(endpoint: str, files: list[RepoFile]) -> float:
    source = UpstreamSource(endpoint)
    try:
        reader = SourceReader(source, await source.resolve("bench/model", "main"))
        await reader.list_files()
        start = time.perf_counter()
        for f in files:
            await read_header(reader, f)
        return time.perf_counter() - start
    finally:
        await source.aclose()


def remote(latency: float) -> None:
    repo = _sharded_repo(SHARDS, tensors_per_shard=20, dim=8192)
    weights = sum(f.size for name, f in repo.files.items() if name.endswith(".safetensors"))  # type: ignore[union-attr]
    headers = sum(len(f.prefix) for name, f in repo.files.items() if name.endswith(".safetensors"))  # type: ignore[union-attr]
    hub = FakeHub({"bench/model": repo}, latency=latency)
    rules = load_default_ruleset()
    files = [RepoFile(n, f.size) for n, f in repo.files.items() if n.endswith(".safetensors")]  # type: ignore[union-attr]
    with serve(hub) as endpoint:
        # Baseline: the same reads one shard after another.
        sequential = asyncio.run(_one_at_a_time(endpoint, files))
        hub.sent_bytes = 0
        start = time.perf_counter()
        result = classify_target("bench/model", rules, {}, endpoint=endpoint)
        elapsed = time.perf_counter() - start
    print(
        f"remote ({latency * 1000:.0f} ms per response): {SHARDS} shards, "
        f"{weights / 1e12:.2f} TB of weights, headers {headers} bytes"
    )
    print(f"  parameters counted: {result.parameters_total:,}")
    print(
        f"  bytes read: {hub.sent_bytes:,} ({hub.sent_bytes / weights:.2e} of the weights; "
        f"{hub.sent_bytes / SHARDS:,.0f} per shard, header {headers / SHARDS:,.0f})"
    )
    print(f"  wall time (classify, concurrent): {elapsed:.3f} s  (target < 1 s)")
    print(f"  baseline (the same header reads, one at a time): {sequential:.3f} s")


def local() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(LOCAL_FILES):
            path = Path(tmp) / f"f{i}.safetensors"
            save_file({f"t{j}": np.zeros((4, 4), dtype=np.float16) for j in range(10)}, str(path))
            paths.append(path)
        start = time.perf_counter()
        ours = sum(read_local_header(p).parameter_count for p in paths)
        gate_rate = LOCAL_FILES / (time.perf_counter() - start)
        start = time.perf_counter()
        theirs = 0
        for p in paths:
            with safe_open(str(p), "np") as handle:
                for key in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    theirs += int(np.prod(handle.get_slice(key).get_shape()))
        lib_rate = LOCAL_FILES / (time.perf_counter() - start)
    assert ours == theirs
    print(f"local: {LOCAL_FILES} files, gate parser {gate_rate:,.0f} files/s (target >= 2,000)")
    print(f"  baseline safetensors.safe_open: {lib_rate:,.0f} files/s")


if __name__ == "__main__":
    remote(0.0)
    remote(0.02)  # a real hub is tens of milliseconds away; concurrency pays off there
    local()
