"""The one place that turns values into the bytes the gate hashes and signs.

Canonical JSON here: UTF-8, keys sorted, no insignificant white space, no NaN or infinity, and
non-ASCII kept as UTF-8. Dates become ISO 8601 strings. Floats use Python's shortest round-trip
repr (`1e+26`), which is stable across platforms; golden vectors in the tests pin the output.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} canonically")


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes of `value` (dicts, lists, strings, numbers, bools, None, dates)."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    ).encode("utf-8")


def canonical_object(fields: Mapping[str, Any], encoded: Mapping[str, bytes]) -> bytes:
    """`canonical_json(fields)` for an object some of whose values were encoded before:
    `encoded[key]` must be `canonical_json(fields[key])`, and is used as it is (a decision
    served many times is encoded once, not once per request)."""
    items: list[bytes] = []
    run: dict[str, Any] = {}
    for key in sorted(fields):
        if key not in encoded:
            run[key] = fields[key]
            continue
        if run:  # the keys before this one, encoded together, without their braces
            items.append(canonical_json(run)[1:-1])
            run = {}
        items.append(canonical_json(key) + b":" + encoded[key])
    if run:
        items.append(canonical_json(run)[1:-1])
    return b"{" + b",".join(items) + b"}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_sha256(value: Any) -> str:
    """Hex sha256 of the canonical JSON of `value`."""
    return sha256_hex(canonical_json(value))
