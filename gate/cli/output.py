"""Shared helpers for CLI output: one console each for stdout and stderr, and JSON printing."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def stdout() -> Console:
    # Built per call so tests that capture sys.stdout see the output.
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    """Machine output: pretty JSON on stdout, keys in a stable order."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
