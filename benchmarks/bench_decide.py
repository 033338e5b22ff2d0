"""Decisions per second on one core, over the mix of shipped examples.

Baseline, measured in the same run: parsing the same requests from JSON (what every request at
the edge costs anyway) and a bare function call loop, so the figure can be read against the
machine's speed at the time. Target: decide() >= 100,000/s (<= 10 us each), ruleset loaded once.
Also measured: decide_all() under the shipped set of two rulesets (ai-diffusion-2025 then
ear-embargoes), what the gate runs per download once the set is wired in.

    python benchmarks/bench_decide.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from gate.core.decide import decide
from gate.core.ruleset_set import decide_all
from gate.rules.loader import load_default_ruleset, load_shipped_set
from gate.schema import parse_request

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def rate(work: Callable[[], int], seconds: float) -> float:
    """Operations per second: best of three runs of at least `seconds` / 3 each."""
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            done += work()
        best = max(best, done / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    ruleset = load_default_ruleset()
    texts = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]
    requests = [parse_request(t) for t in texts]

    shipped = load_shipped_set()

    def decide_each() -> int:
        for request in requests:
            decide(request, ruleset)
        return len(requests)

    def decide_set() -> int:
        for request in requests:
            decide_all(request, shipped)
        return len(requests)

    def parse_all() -> int:
        for text in texts:
            parse_request(text)
        return len(texts)

    def noop(_request: object, _ruleset: object) -> None:
        return None

    def call_all() -> int:
        for request in requests:
            noop(request, ruleset)
        return len(requests)

    decisions = rate(decide_each, args.seconds)
    set_decisions = rate(decide_set, args.seconds)
    parses = rate(parse_all, args.seconds)
    calls = rate(call_all, args.seconds)
    print(f"examples in the mix:          {len(requests)}")
    print(f"decide():                     {decisions:12,.0f} /s  ({1e6 / decisions:.2f} us each)")
    print(
        f"decide_all(), set of two:     {set_decisions:12,.0f} /s  "
        f"({1e6 / set_decisions:.2f} us each)"
    )
    print(f"baseline, parse request JSON: {parses:12,.0f} /s  ({1e6 / parses:.2f} us each)")
    print(f"baseline, empty call:         {calls:12,.0f} /s")
    verdict = "meets" if decisions >= 100_000 else "MISSES"
    print(f"target 100,000/s: {verdict}")


if __name__ == "__main__":
    main()
