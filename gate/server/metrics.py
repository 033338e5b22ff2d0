"""Prometheus metrics (text exposition format 0.0.4) and structured JSON logs.

A handful of counters and one histogram do not justify a dependency: the exposition format is a
few lines of text. The event loop is single-threaded, so plain integers suffice.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from typing import Any

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Decisions by verdict, bytes served, aborted streams, and request latency by route."""

    def __init__(self) -> None:
        self.decisions: Counter[str] = Counter()
        self.bytes_served = 0
        self.aborted = 0
        self.errors: Counter[tuple[int, str]] = Counter()
        self._latency: dict[str, list[int]] = {}
        self._latency_sum: dict[str, float] = {}
        self._latency_count: Counter[str] = Counter()

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

    def render(self) -> str:
        lines = [
            "# HELP gate_decisions_total Transfer decisions by verdict.",
            "# TYPE gate_decisions_total counter",
        ]
        lines += [
            f'gate_decisions_total{{verdict="{v}"}} {n}' for v, n in sorted(self.decisions.items())
        ]
        lines += [
            "# HELP gate_bytes_served_total File bytes sent to clients.",
            "# TYPE gate_bytes_served_total counter",
            f"gate_bytes_served_total {self.bytes_served}",
            "# HELP gate_streams_aborted_total Responses cut (digest mismatch, source failure).",
            "# TYPE gate_streams_aborted_total counter",
            f"gate_streams_aborted_total {self.aborted}",
            "# HELP gate_errors_total Failed requests (5xx) by status and error.",
            "# TYPE gate_errors_total counter",
            *(
                f'gate_errors_total{{status="{status}",error="{kind}"}} {n}'
                for (status, kind), n in sorted(self.errors.items())
            ),
            "# HELP gate_request_seconds Time to response headers, by route.",
            "# TYPE gate_request_seconds histogram",
        ]
        for route, buckets in sorted(self._latency.items()):
            for bound, count in zip(_BUCKETS, buckets, strict=True):
                lines.append(f'gate_request_seconds_bucket{{route="{route}",le="{bound}"}} {count}')
            total = self._latency_count[route]
            lines.append(f'gate_request_seconds_bucket{{route="{route}",le="+Inf"}} {total}')
            lines.append(
                f'gate_request_seconds_sum{{route="{route}"}} {self._latency_sum[route]:.6f}'
            )
            lines.append(f'gate_request_seconds_count{{route="{route}"}} {total}')
        return "\n".join(lines) + "\n"


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
    for name in ("gate", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
