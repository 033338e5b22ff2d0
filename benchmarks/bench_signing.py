"""How much signing adds to a HEAD: receipt build + sign + header vs. the unsigned receipt.

Baseline (same run): build the claims, the in-toto statement and its canonical JSON, and
base64url it as if it were the header, without a signature. Signed: the same plus the ECDSA
P-256 signature and the DSSE envelope. Budget from the issue: signing adds at most 1 ms p99.

    .venv/bin/python benchmarks/bench_signing.py [iterations]
"""

from __future__ import annotations

import base64
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from gate.core.canonical import canonical_json
from gate.crypto.keys import Signer
from gate.crypto.receipts import (
    ReceiptClaims,
    build_receipt_statement,
    encode_receipt_header,
    sign_receipt,
)
from gate.crypto.snapshot_bundle import build_snapshot_bundle, encode_bundle

SIGNER = Signer.from_private_key(ec.generate_private_key(ec.SECP256R1()))


def _claims(i: int) -> ReceiptClaims:
    now = datetime.now(UTC)
    return ReceiptClaims(
        repo_id="acme/frontier-1",
        commit="0123456789abcdef0123456789abcdef01234567",
        path=f"model-{i % 50:05d}-of-00050.safetensors",
        sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        size=4_997_000_000,
        recipient_id="rcp_7",
        recipient_name="Example Labs GmbH",
        destination="DE",
        verdict="allow",
        basis="license_exception_aia",
        license_used=None,
        declaration_id="decl_3",
        ruleset_id="ai-diffusion-2025",
        ruleset_sha256="ab" * 32,
        decision_id=f"dec_{i}",
        issued_at=now,
        expires_at=now + timedelta(hours=1),
    )


def unsigned(i: int) -> str:
    payload = canonical_json(build_receipt_statement(_claims(i)))
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def signed(i: int) -> str:
    return encode_receipt_header(sign_receipt(build_receipt_statement(_claims(i)), SIGNER))


def measure(fn: Callable[[int], object], n: int) -> list[float]:
    for i in range(200):  # warm up
        fn(i)
    out = []
    for i in range(n):
        start = time.perf_counter_ns()
        fn(i)
        out.append((time.perf_counter_ns() - start) / 1e6)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    base = measure(unsigned, n)
    sig = measure(signed, n)
    print(f"receipt header, {n} iterations (ms)")
    for name, values in (("unsigned", base), ("signed", sig)):
        print(
            f"  {name:<8}  p50 {pct(values, 50):.4f}  p99 {pct(values, 99):.4f}"
            f"  mean {statistics.fmean(values):.4f}"
        )
    added = pct(sig, 99) - pct(base, 99)
    print(
        f"  signing adds p50 {pct(sig, 50) - pct(base, 50):.4f} ms, p99 {added:.4f} ms "
        f"(budget 1 ms: {'OK' if added <= 1.0 else 'OVER'})"
    )

    digests = {f"model-{i:05d}-of-00050.safetensors": f"{i:064x}" for i in range(50)}
    decisions = {path: f"dec_{i}" for i, path in enumerate(digests)}

    def bundle(_: int) -> bytes:
        return encode_bundle(
            build_snapshot_bundle(
                digests,
                SIGNER,
                recipient_id="rcp_7",
                decision_ids=decisions,
                repo_id="acme/frontier-1",
                commit="0" * 40,
            )
        )

    times = measure(bundle, max(200, n // 10))
    print(f"snapshot bundle over 50 files (ms): p50 {pct(times, 50):.4f}  p99 {pct(times, 99):.4f}")


if __name__ == "__main__":
    main()
