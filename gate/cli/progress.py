"""Progress of long commands (`audit verify`, `replay`, `estimate`, `classify`) on stderr.

Progress never touches stdout, so piped and `--json` output stay byte for byte what they were.
By default it shows only on a terminal and never with `--json`; `--progress` forces it (as plain
`label: done/total` lines when stderr is not a terminal, since a live bar written to a file is
escape codes), `--no-progress` turns it off.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import typer

from gate.cli.output import stderr

Step = Callable[[int, int | None], None]
"""`step(done, total)`: how far the work is; `total` None while it is not known."""

PROGRESS_OPTION = typer.Option(
    None,
    "--progress/--no-progress",
    help="Show progress on stderr (default: on a terminal, and not with --json).",
)


@contextlib.contextmanager
def entries_progress(
    label: str, *, quiet: bool, force: bool | None = None
) -> Iterator[Step | None]:
    """A `(done, total)` progress display on stderr, or None (no output at all).

    `force` is the --progress/--no-progress switch; unset, the display shows when stderr is a
    terminal and the command is not `quiet` (--json)."""
    terminal = sys.stderr.isatty()
    if force is False or (force is None and (quiet or not terminal)):
        yield None
        return
    if not terminal:
        yield _lines(label)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def step(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield step


def _lines(label: str) -> Step:
    def step(done: int, total: int | None) -> None:
        sys.stderr.write(f"{label}: {done}/{'?' if total is None else total}\n")
        sys.stderr.flush()

    return step
