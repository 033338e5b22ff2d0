"""Shared helpers for CLI output: one console each for stdout and stderr, and JSON printing.

`write_styled` and `error_line` write plain text themselves when rich would write the same
bytes (the stream is not a terminal, no colour is forced, the text has no control characters),
so `gate decide` does not load rich to print a decision into a pipe or a file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

Styled = Sequence[tuple[str, str]]
"""One line as (text, rich style) pieces; style "" for unstyled text."""


def stdout() -> Console:
    from rich.console import Console

    # Built per call so tests that capture sys.stdout see the output.
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    """Machine output: pretty JSON on stdout, keys in a stable order."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def write_styled(lines: Sequence[Styled], file: IO[str] | None = None) -> None:
    """Print styled lines to `file` (stdout): colour on a terminal, plain text elsewhere.

    Text is shown as given (no markup, no emoji codes); rich renders it when styles can show.
    """
    out = sys.stdout if file is None else file
    if _plain(out, (text for line in lines for text, _ in line)):
        out.write("".join("".join(text for text, _ in line) + "\n" for line in lines))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=True)
    for line in lines:
        console.print(Text.assemble(*line))


def error_line(message: str) -> None:
    """One line on standard error, shown as given."""
    write_styled([[(message, "")]], sys.stderr)


def _plain(out: IO[str], texts: Any) -> bool:
    """True when rich would write these texts to `out` unchanged and without escape codes."""
    # rich's terminal detection (Console.is_terminal): TTY_COMPATIBLE, FORCE_COLOR, isatty.
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible == "1" or (tty_compatible != "0" and "FORCE_COLOR" in os.environ):
        return False
    try:
        if tty_compatible != "0" and out.isatty():
            return False
    except (AttributeError, ValueError):
        pass
    # rich drops or expands control characters; leave those texts to it.
    return not any(ch < " " or ch == "\x7f" for text in texts for ch in text)
