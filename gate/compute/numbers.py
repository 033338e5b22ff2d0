"""Parse the quantities people type for compute: `405e9`, `15.6T`, `70B`, `1.2e26`, `3M`, `500k`.

Suffixes are decimal (k = 1e3, M = 1e6, B/G = 1e9, T = 1e12, P = 1e15, E = 1e18), case-insensitive
except that `m` is also taken as million: nobody gives a parameter count in thousandths.
"""

from __future__ import annotations

import math
import re

from gate.errors import InputError

_SUFFIXES = {
    "": 1.0,
    "k": 1e3,
    "m": 1e6,
    "b": 1e9,
    "g": 1e9,
    "t": 1e12,
    "p": 1e15,
    "e": 1e18,
}
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*([a-zA-Z]?)\s*$")


def parse_quantity(text: str | float | int, field: str) -> float:
    """A non-negative finite number from `text`; raises InputError naming `field` otherwise."""
    if isinstance(text, bool):
        raise InputError(field, f"expected a number, got {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _NUMBER.match(text)
        if match is None:
            stripped = text.strip()
            if stripped.startswith("-"):
                raise InputError(field, f"must not be negative, got {stripped!r}")
            raise InputError(
                field, f"expected a number like 405e9, 15.6T, 70B or 500k, got {text!r}"
            )
        mantissa, exponent, suffix = match.groups()
        if suffix.lower() not in _SUFFIXES:
            raise InputError(field, f"unknown suffix {suffix!r} in {text!r} (use k, M, B, T, P)")
        try:
            value = float(f"{mantissa}e{exponent or 0}") * _SUFFIXES[suffix.lower()]
        except OverflowError as exc:
            raise InputError(field, f"number too large: {text!r}") from exc
    if math.isnan(value) or math.isinf(value):
        raise InputError(field, f"must be a finite number, got {text!r}")
    if value < 0:
        raise InputError(field, f"must not be negative, got {text!r}")
    return value


def parse_positive(text: str | float | int, field: str) -> float:
    """As `parse_quantity`, and also refuse zero (a chip count, a duration)."""
    value = parse_quantity(text, field)
    if value == 0:
        raise InputError(field, "must be greater than zero")
    return value


def format_ops(value: float | None) -> str:
    """`3.8e+25` for people: three significant digits, `unknown` for None."""
    return "unknown" if value is None else f"{value:.3g}"
