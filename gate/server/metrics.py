"""Prometheus metrics (text exposition format 0.0.4) and structured JSON logs.

A handful of counters and one histogram do not justify a dependency: the exposition format is a
few lines of text. The event loop is single-threaded, so plain integers suffice.

Several workers (`gate serve --workers N`): each worker writes its own counters to
`<shared_dir>/<pid>.json` once a second (a thread; written to a temporary name and renamed, so a
reader never sees half a file), and `/metrics`, whichever worker answers it, adds its own live
counters to every other worker's file. Counters are totals since start, so a worker that exited
keeps counting (its file stays, as in Prometheus' multiprocess mode); a scrape may miss the last
second of another worker's requests, never count one twice.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Decisions by verdict, bytes served, aborted streams, and request latency by route."""

    def __init__(self, shared_dir: Path | None = None, *, flush_seconds: float = 1.0) -> None:
        self.decisions: Counter[str] = Counter()
        self.bytes_served = 0
        self.bytes_zerocopy = 0
        self.aborted = 0
        self.errors: Counter[tuple[int, str]] = Counter()
        self._latency: dict[str, list[int]] = {}
        self._latency_sum: dict[str, float] = {}
        self._latency_count: Counter[str] = Counter()
        self.shared_dir = shared_dir
        if shared_dir is not None:
            shared_dir.mkdir(parents=True, exist_ok=True)
            self._own = shared_dir / f"{os.getpid()}.json"
            self.flush()
            thread = threading.Thread(
                target=self._flush_every, args=(flush_seconds,), daemon=True, name="gate-metrics"
            )
            thread.start()

    # -- sharing between workers -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """This process's counters as JSON (copies taken whole, safe from another thread)."""
        return {
            "decisions": dict(self.decisions),
            "bytes_served": self.bytes_served,
            "bytes_zerocopy": self.bytes_zerocopy,
            "aborted": self.aborted,
            "errors": [[status, kind, n] for (status, kind), n in list(self.errors.items())],
            "latency": {k: list(v) for k, v in list(self._latency.items())},
            "latency_sum": dict(self._latency_sum),
            "latency_count": dict(self._latency_count),
        }

    def flush(self) -> None:
        """Write this worker's counters to its file in the shared folder."""
        if self.shared_dir is None:
            return
        temporary = self._own.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        os.replace(temporary, self._own)

    def _flush_every(self, seconds: float) -> None:
        while True:
            time.sleep(seconds)
            try:
                self.flush()
            except OSError:
                continue  # the folder is gone (server stopping) or full: try again later

    def combined(self) -> dict[str, Any]:
        """This worker's live counters plus every other worker's last written ones."""
        total = self.snapshot()
        total["errors"] = {(status, kind): n for status, kind, n in total["errors"]}
        if self.shared_dir is None:
            return total
        for path in sorted(self.shared_dir.glob("*.json")):
            if path == self._own:
                continue
            try:
                other = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            _add(total, other)
        return total

    def observe(self, route: str, seconds: float) -> None:
        buckets = self._latency.setdefault(route, [0] * len(_BUCKETS))
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
        self._latency_sum[route] = self._latency_sum.get(route, 0.0) + seconds
        self._latency_count[route] += 1

    def count_error(self, status: int, kind: str) -> None:
        """A 5xx answer (store or source failure, not ready), by status and error class."""
        self.errors[(status, kind)] += 1

    def add_bytes(self, n: int) -> None:
        self.bytes_served += n

    def add_zerocopy_bytes(self, n: int) -> None:
        """Bytes of verified local blobs sent without re-hashing: with sendfile, or read whole
        when small (counted in bytes served too)."""
        self.bytes_served += n
        self.bytes_zerocopy += n

    def render(self) -> str:
        snap = self.combined()
        lines = [
            "# HELP gate_decisions_total Transfer decisions by verdict.",
            "# TYPE gate_decisions_total counter",
        ]
        lines += [
            f'gate_decisions_total{{verdict="{v}"}} {n}'
            for v, n in sorted(snap["decisions"].items())
        ]
        lines += [
            "# HELP gate_bytes_served_total File bytes sent to clients.",
            "# TYPE gate_bytes_served_total counter",
            f"gate_bytes_served_total {snap['bytes_served']}",
            "# HELP gate_bytes_zerocopy_total Verified local blob bytes sent unhashed.",
            "# TYPE gate_bytes_zerocopy_total counter",
            f"gate_bytes_zerocopy_total {snap['bytes_zerocopy']}",
            "# HELP gate_streams_aborted_total Responses cut (digest mismatch, source failure).",
            "# TYPE gate_streams_aborted_total counter",
            f"gate_streams_aborted_total {snap['aborted']}",
            "# HELP gate_errors_total Failed requests (5xx) by status and error.",
            "# TYPE gate_errors_total counter",
            *(
                f'gate_errors_total{{status="{status}",error="{kind}"}} {n}'
                for (status, kind), n in sorted(snap["errors"].items())
            ),
            "# HELP gate_request_seconds Time to response headers, by route.",
            "# TYPE gate_request_seconds histogram",
        ]
        for route, buckets in sorted(snap["latency"].items()):
            for bound, count in zip(_BUCKETS, buckets, strict=True):
                lines.append(f'gate_request_seconds_bucket{{route="{route}",le="{bound}"}} {count}')
            total = snap["latency_count"][route]
            lines.append(f'gate_request_seconds_bucket{{route="{route}",le="+Inf"}} {total}')
            lines.append(
                f'gate_request_seconds_sum{{route="{route}"}} {snap["latency_sum"][route]:.6f}'
            )
            lines.append(f'gate_request_seconds_count{{route="{route}"}} {total}')
        return "\n".join(lines) + "\n"


def _add(total: dict[str, Any], other: dict[str, Any]) -> None:
    """Add another worker's snapshot into `total` (both in `Metrics.snapshot` form)."""
    for key in ("bytes_served", "bytes_zerocopy", "aborted"):
        total[key] += int(other.get(key, 0))
    for key in ("decisions", "latency_sum", "latency_count"):
        for name, value in other.get(key, {}).items():
            total[key][name] = total[key].get(name, 0) + value
    for status, kind, n in other.get("errors", []):
        total["errors"][(status, kind)] = total["errors"].get((status, kind), 0) + n
    for route, buckets in other.get("latency", {}).items():
        mine = total["latency"].setdefault(route, [0] * len(_BUCKETS))
        total["latency"][route] = [a + b for a, b in zip(mine, buckets, strict=True)]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_json_logging(level: str = "INFO") -> None:
    """Send the gate's and uvicorn's logs to stderr as JSON lines (called by `gate serve`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("gate", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    # The gate writes its own line per decided request; uvicorn's access log would double every
    # request (and with several workers each one attached a handler: hundreds of MB per run).
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True
