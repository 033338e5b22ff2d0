"""Fixtures every test folder shares: the databases the records tests run against.

PostgreSQL is found through GATE_TEST_POSTGRES_URL (see DEVELOPERS.md); each test gets its own
schema, selected with the connection's search_path, and drops it afterwards, so runs never clash.
Without the variable the PostgreSQL cases skip and say why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

PG_ENV = "GATE_TEST_POSTGRES_URL"


def pg_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema, dropped afterwards."""
    base = pg_base_url()
    if base is None:
        pytest.skip(f"{PG_ENV} is not set (see DEVELOPERS.md)")
    schema = "gate_test_" + secrets.token_hex(6)
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])]
)
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/gate.db"
    url: str = request.getfixturevalue("pg_schema_url")
    return url
