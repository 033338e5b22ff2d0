"""The kept writer connection survives the database closing it (PostgreSQL).

Writes keep one connection across transactions. A PostgreSQL server that restarts, fails over,
or ends idle sessions (`idle_session_timeout`, a pooler's idle limit) closes it while the gate
is quiet; the pool's pre-ping used to find that at checkout. The next write must still be
recorded, not fail with "cannot reach database" (a 503 for every request of the batch).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from gate.store import recipients
from gate.store.db import Store, open_store
from tests.conftest import pg_base_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def named(pg_schema_url: str) -> Iterator[tuple[Store, str]]:
    name = "gate_writer_" + secrets.token_hex(4)
    store = open_store(f"{pg_schema_url}&application_name={name}")
    yield store, name
    store.close()


def _end_sessions(name: str) -> int:
    """End this store's database sessions from the server side, as a restart would."""
    base = pg_base_url()
    assert base is not None
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            ended = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": name},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(ended)


def test_a_write_after_the_server_ended_the_writer_session_is_recorded(
    named: tuple[Store, str],
) -> None:
    store, name = named
    recipients.add(
        store, "acme", actor="t", name="Acme", headquarters="US", parent="self", destinations=["US"]
    )
    assert _end_sessions(name) >= 1
    recipients.add(
        store, "ally", actor="t", name="Ally", headquarters="DE", parent="self", destinations=["DE"]
    )
    assert recipients.get(store, "ally").name == "Ally"
