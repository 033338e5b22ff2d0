"""The records generation: one counter every change to what a decision reads bumps.

A change to a recipient, license, designation, override, trained-for mark or classification
bumps it in the change's own transaction. Whatever is built from the records and kept (the
snapshot bundles) is keyed by it, so one change invalidates it in every worker and replica:
they all read the same row.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from gate.store.db import Store
from gate.store.schema import records_generation as t

_BUMP = update(t).where(t.c.id == 1).values(generation=t.c.generation + 1)
_READ = select(t.c.generation).where(t.c.id == 1)


def bump(conn: Connection) -> None:
    """Inside a write transaction that changes the records."""
    conn.execute(_BUMP)


def current(store: Store) -> int:
    """The generation now (one indexed single-row read)."""
    with store.read() as conn:
        return int(conn.execute(_READ).scalar_one())
