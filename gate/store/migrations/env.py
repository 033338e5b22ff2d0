"""Alembic environment: migrate the connection `open_store` hands over, or a URL from -x url=.

`open_store` passes its own connection (already holding the migration lock) in
`config.attributes["connection"]`, so migrations never open a second connection.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from gate.store.schema import metadata

config = context.config


def _run_with(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "GATE_DATABASE_URL"
    )
    if not url:
        raise SystemExit("give the database with -x url=... or GATE_DATABASE_URL")
    engine = create_engine(url)
    with engine.connect() as conn:
        _run_with(conn)
        conn.commit()


run_migrations()
