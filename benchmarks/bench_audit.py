"""Audit chain benchmark: sustained decision appends, and `verify` over a million entries.

    .venv/bin/python benchmarks/bench_audit.py [--appends 20000] [--verify-entries 1000000]
        [--postgres URL]   (default: GATE_TEST_POSTGRES_URL when set)

Each figure is printed beside a baseline measured in the same run on the same machine:
- appends: `record_decision` (a real decision with its full request, hashed and chained) against
  a bare sqlite3 loop that inserts the same bytes, one transaction each, with no chain;
- verify: `verify_chain` against a bare scan that reads every body and sha256-hashes it.
Targets (issue 4): >= 5,000 decisions/s into SQLite; verify of 1,000,000 entries <= 10 s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from gate.core.canonical import canonical_json
from gate.core.decide import decide
from gate.core.values import ComputeInterval, Decision, ModelFacts, TransferRequest
from gate.rules.loader import load_default_ruleset
from gate.store import audit, recipients
from gate.store.db import open_store
from gate.store.facts import build_request
from gate.store.record import RequestMeta, record_decision


def _decision_inputs(store_url: str) -> tuple[TransferRequest, Decision, RequestMeta]:
    store = open_store(store_url)
    recipients.add(
        store,
        "acme",
        actor="bench",
        name="Acme Research",
        headquarters="US",
        parent="self",
        destinations=["US"],
    )
    facts = ModelFacts(
        repo_id="org/frontier",
        commit="a" * 40,
        published=False,
        training_compute=ComputeInterval(
            2e26, 4e26, 3e26, "counting", ("safetensors header: 405e9 params",)
        ),
    )
    request = build_request(
        store,
        recipient="acme",
        repo_id=facts.repo_id,
        commit=facts.commit,
        revision="main",
        file="model-00001-of-00030.safetensors",
        destination=None,
        day=date(2026, 6, 1),
        model_facts=facts,
    )
    decision = decide(request, load_default_ruleset())
    meta = RequestMeta(
        recipient_id="acme",
        repo_id=facts.repo_id,
        commit=facts.commit,
        file=request.file,
        sha256="b" * 64,
        size=4_984_000_000,
        client_address="10.0.0.7",
        method="GET",
    )
    store.close()
    return request, decision, meta


def bench_appends(url: str, n: int, synchronous: str = "NORMAL") -> tuple[float, int]:
    request, decision, meta = _decision_inputs(url)
    store = open_store(url, sqlite_synchronous=synchronous)
    for _ in range(200):  # warm up
        record_decision(store, request, decision, meta)
    start = time.perf_counter()
    for _ in range(n):
        entry = record_decision(store, request, decision, meta)
    elapsed = time.perf_counter() - start
    size = len(canonical_json(dict(entry.payload)))
    store.close()
    return n / elapsed, size


def bench_appends_threaded(url: str, n: int, threads: int) -> float:
    """As the proxy appends: `threads` request threads at once (group commit shares commits)."""
    request, decision, meta = _decision_inputs(url)
    store = open_store(url)
    per_thread = n // threads

    def work() -> None:
        for _ in range(per_thread):
            record_decision(store, request, decision, meta)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    assert audit.verify_chain(store).ok
    store.close()
    return per_thread * threads / elapsed


def baseline_sqlite_inserts(path: Path, n: int, size: int, synchronous: str) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    body = "x" * size
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (seq, body) VALUES (?, ?)", (i, body))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def fill_chain(url: str, n: int) -> None:
    """Write n chained entries with realistic bodies, fast (bulk, outside the append path)."""
    request, decision, meta = _decision_inputs(url)
    from gate.schema import request_to_dict

    template = {
        "decision_id": "",
        "mode": "enforce",
        "enforced": True,
        "allowed": True,
        "would_have_blocked": False,
        "request": request_to_dict(request),
        "decision": decision.to_dict(),
        "meta": meta.to_dict(),
        "inquiry_id": None,
        "kind": "decision",
        "recorded_at": "",
    }
    store = open_store(url)
    with store.read() as read:
        seq0, prev = read.execute(text("SELECT seq, hash FROM audit_head")).one()
    store.close()
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    stamp = datetime.now(UTC)
    batch: list[tuple[object, ...]] = []
    seq = seq0
    conn.execute("BEGIN")
    for i in range(n):
        seq += 1
        template["decision_id"] = f"dec_{i:024x}"
        template["recorded_at"] = stamp.isoformat()
        body = canonical_json(template)
        digest = audit.entry_hash(body, prev, seq)
        batch.append(
            (
                seq,
                prev,
                digest,
                body.decode(),
                stamp.replace(tzinfo=None).isoformat(" "),
                "decision",
                template["decision_id"],
                "acme",
                "org/frontier",
                "allow",
                1,
            )
        )
        prev = digest
        if len(batch) == 50_000:
            conn.executemany(
                "INSERT INTO audit_entries (seq, prev_hash, hash, body, recorded_at, kind, ref,"
                " recipient_id, repo_id, verdict, allowed) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
            batch.clear()
    if batch:
        conn.executemany(
            "INSERT INTO audit_entries (seq, prev_hash, hash, body, recorded_at, kind, ref,"
            " recipient_id, repo_id, verdict, allowed) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            batch,
        )
    conn.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq, prev))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def baseline_scan(path: str) -> float:
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    cur = conn.execute("SELECT body FROM audit_entries ORDER BY seq")
    while rows := cur.fetchmany(20_000):
        for (body,) in rows:
            hashlib.sha256(body.encode()).digest()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=20_000)
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("GATE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    print(
        f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
        f"sqlite {sqlite3.sqlite_version}; data in {work}"
    )

    print(f"\n== appends: record_decision, {args.appends} decisions, one transaction each ==")
    for sync in ("NORMAL", "FULL"):
        rate, size = bench_appends(f"sqlite:///{work / f'appends-{sync}.db'}", args.appends, sync)
        base = baseline_sqlite_inserts(work / f"baseline-{sync}.db", args.appends, size, sync)
        print(
            f"sqlite synchronous={sync:6}: {rate:8.0f} decisions/s  "
            f"(entry {size} bytes; bare sqlite3 insert of the same bytes: {base:8.0f}/s, "
            f"gate at {rate / base:.0%} of it)  target >= 5000: "
            f"{'met' if rate >= 5000 else 'NOT met'}"
        )
    rate = bench_appends_threaded(f"sqlite:///{work / 'threads.db'}", args.appends, 8)
    print(f"sqlite synchronous=NORMAL, 8 request threads: {rate:8.0f} decisions/s (group commit)")
    if args.postgres:
        schema = "bench_" + secrets.token_hex(4)
        admin = create_engine(args.postgres)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in args.postgres else "?"
        try:
            url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
            rate, _ = bench_appends(url, min(args.appends, 3000))
            print(f"postgresql (local, fsync on), 1 thread: {rate:8.0f} decisions/s")
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}"))
            rate = bench_appends_threaded(url, min(args.appends, 8000), 8)
            print(f"postgresql (local, fsync on), 8 threads: {rate:8.0f} decisions/s")
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    else:
        print("postgresql: skipped (give --postgres URL or set GATE_TEST_POSTGRES_URL)")

    n = args.verify_entries
    print(f"\n== verify: {n} entries ==")
    path = work / "verify.db"
    start = time.perf_counter()
    fill_chain(f"sqlite:///{path}", n)
    print(
        f"(filled in {time.perf_counter() - start:.1f} s; file {path.stat().st_size / 1e9:.2f} GB)"
    )
    base = baseline_scan(str(path))
    store = open_store(f"sqlite:///{path}")
    start = time.perf_counter()
    result = audit.verify_chain(store)
    elapsed = time.perf_counter() - start
    store.close()
    assert result.ok, result.problem
    print(
        f"verify_chain: {elapsed:.2f} s for {result.entries} entries "
        f"({result.entries / elapsed:,.0f}/s); bare read+sha256 scan: {base:.2f} s; "
        f"target <= 10 s: {'met' if elapsed <= 10 else 'NOT met'}"
    )
    for file in work.iterdir():
        file.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
