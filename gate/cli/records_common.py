"""What the records commands share: opening the store, who is acting, parsing dates, tables."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from gate.cli.output import stdout
from gate.errors import InputError
from gate.settings import Settings
from gate.store.chain import checkpoint_now, head_seq
from gate.store.db import Store
from gate.wiring import open_records, optional_signer

DB_OPTION = typer.Option(
    None,
    "--db",
    help="Database URL (default: GATE_DATABASE_URL, else sqlite:///<GATE_DATA_DIR>/gate.db).",
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
BY_OPTION = typer.Option(None, "--by", help="Who is acting (default: the login name).")


@contextlib.contextmanager
def cli_store(db: str | None) -> Iterator[Store]:
    """The store for one command, from --db or the settings; closed afterwards. Checkpoints
    are signed when a key ring exists and its passphrase is set, and one covers whatever the
    command appended before it closes (a checkpoint at shutdown)."""
    settings = Settings()
    store = open_records(settings, optional_signer(settings), db)
    try:
        start = head_seq(store) if store.signer is not None else 0
        yield store
        # Only what this command appended: reading commands (verify above all) never sign.
        if store.signer is not None and head_seq(store) > start:
            checkpoint_now(store)
    finally:
        store.close()


def actor(by: str | None) -> str:
    if by is not None and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def parse_date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(field, f"expected a date YYYY-MM-DD, got {text!r}") from None


def parse_since(text: str | None, field: str = "since") -> datetime | None:
    """A date (midnight UTC) or an ISO date-time (UTC when no zone is given)."""
    if text is None:
        return None
    raw = text.strip()
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(
            field, f"expected a date YYYY-MM-DD or date-time YYYY-MM-DDTHH:MM, got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*(escape(show(v)) for v in row))
    stdout().print(grid)


def fields(title: str, items: Sequence[tuple[str, Any]]) -> None:
    grid = Table(title=title, title_justify="left", show_header=False)
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in items:
        grid.add_row(escape(key), escape(show(value)))
    stdout().print(grid)
