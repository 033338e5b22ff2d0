"""Screening one name against a 30,000-entry list, on one core: median and p99 per name.

The list is synthetic (deterministic seed): organisation names of 2-5 words from a vocabulary of
real-looking words, a legal form, 0-2 aliases and a country each, the shape of the CSL. Queries
mix exact names, variants (case, suffix, order, a typo), aliases and names that match nothing.
Baseline, measured in the same run: an exact-match dict lookup of the normalised name (what a
screen without fuzziness would cost). Target: < 50 ms per name.

    python benchmarks/bench_screening.py [--entries 30000] [--queries 400]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable

from gate.screening import DEFAULT_THRESHOLD
from gate.screening.lists import ListEntry
from gate.screening.matching import ScreeningIndex
from gate.screening.normalize import normalize_name

SYLLABLES = [
    "an",
    "bel",
    "cor",
    "dan",
    "el",
    "fen",
    "gar",
    "hol",
    "in",
    "jin",
    "kar",
    "lon",
    "mor",
    "nor",
    "ost",
    "pan",
    "qui",
    "ros",
    "sen",
    "tor",
    "ur",
    "vel",
    "wen",
    "xin",
    "yan",
    "zor",
]
FORMS = ["Ltd", "Co., Ltd.", "LLC", "GmbH", "JSC", "OOO", "Inc.", "S.A.", "Corporation", ""]
GENERIC = [
    "Trading",
    "Industrial",
    "Technology",
    "Engineering",
    "Import",
    "Export",
    "Group",
    "Holding",
    "Logistics",
]
COUNTRIES = ["CN", "RU", "IR", "KP", "SY", "BY", "AE", "TR", "HK", "PK", "DE", "US"]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def synthetic_list(n: int, seed: int = 4091) -> list[ListEntry]:
    rng = random.Random(seed)
    entries = []
    for i in range(n):
        words = [word(rng) for _ in range(rng.randint(1, 3))]
        words += rng.sample(GENERIC, rng.randint(0, 2))
        name = " ".join(words) + " " + rng.choice(FORMS)
        aliases = tuple(" ".join(word(rng) for _ in range(2)) for _ in range(rng.randint(0, 2)))
        entries.append(
            ListEntry(str(i), name.strip(), aliases, (rng.choice(COUNTRIES),)).with_hash()
        )
    return entries


def queries(entries: list[ListEntry], n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        entry = rng.choice(entries)
        kind = rng.randrange(5)
        if kind == 0:
            out.append(entry.name)
        elif kind == 1:
            out.append(" ".join(reversed(entry.name.split())).upper())
        elif kind == 2 and entry.alt_names:
            out.append(entry.alt_names[0] + " Limited")
        elif kind == 3:
            name = entry.name
            pos = rng.randrange(len(name))
            out.append(name[:pos] + "x" + name[pos + 1 :])  # a typo
        else:
            out.append(f"{word(rng)} {word(rng)} Solutions GmbH")  # matches nothing
    return out


def timings(work: Callable[[str], object], names: list[str]) -> list[float]:
    out = []
    for name in names:
        start = time.perf_counter()
        work(name)
        out.append(time.perf_counter() - start)
    return out


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"{label:34} median {statistics.median(times) * 1e3:8.3f} ms   p99 {p99 * 1e3:8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    entries = synthetic_list(args.entries)
    start = time.perf_counter()
    index = ScreeningIndex(entries)
    built = time.perf_counter() - start
    names = queries(entries, args.queries)
    exact = {normalize_name(n): e for e in entries for n in e.all_names}
    hits = sum(1 for n in names if index.screen(n, "CN", threshold=DEFAULT_THRESHOLD))
    print(
        f"{len(entries)} entries, {len(exact)} distinct names; index built in {built:.2f} s; "
        f"{len(names)} queries, {hits} with a hit at threshold {DEFAULT_THRESHOLD}"
    )
    report("screen (fuzzy, country CN)", timings(lambda n: index.screen(n, "CN"), names))
    report("exact dict lookup (normalised)", timings(lambda n: exact.get(normalize_name(n)), names))


if __name__ == "__main__":
    main()
