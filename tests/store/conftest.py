"""One `store` fixture over both databases: SQLite (a file per test) and PostgreSQL.

PostgreSQL is found through GATE_TEST_POSTGRES_URL (see DEVELOPERS.md); each test gets its own
schema, selected with the connection's search_path, and drops it afterwards, so runs never clash.
Without the variable the PostgreSQL cases skip and say why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text

from gate.store.db import CheckpointPolicy, Store, open_store

PG_ENV = "GATE_TEST_POSTGRES_URL"


class P256Signer:
    """A real ECDSA P-256 signer, as gate.crypto.keys provides it."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = "test-" + secrets.token_hex(4)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    @property
    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        return {self.key_id: self.private_key.public_key()}


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/gate.db"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def signer() -> P256Signer:
    return P256Signer()


@pytest.fixture
def make_store(database_url: str) -> Iterator[Callable[..., Store]]:
    opened: list[Store] = []

    def make(**kwargs: object) -> Store:
        store = open_store(database_url, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., Store], signer: P256Signer) -> Store:
    return make_store(signer=signer, checkpoints=CheckpointPolicy(every=5, minutes=60))
