"""Opening the store: migrations, pragmas, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from gate.errors import InputError
from gate.settings import Settings
from gate.store import db
from gate.store.db import Store, open_store
from gate.store.schema import metadata


def test_migrations_create_the_tables_the_queries_use(store: Store) -> None:
    inspector = inspect(store.engine)
    for table in metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name
    with store.read() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    heads = ScriptDirectory(str(Path(db.__file__).parent / "migrations")).get_heads()
    assert heads == [version]


def test_reopening_is_idempotent(database_url: str) -> None:
    open_store(database_url).close()
    store = open_store(database_url)
    store.ping()
    store.close()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'g.db'}", sqlite_synchronous="FULL")
    with store.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    store.close()


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GATE_MODE", "shadow")
    settings = Settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'gate.db'}"
    assert settings.mode == "shadow" and settings.effective_key_dir == tmp_path / "keys"
    monkeypatch.setenv("GATE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("GATE_KEY_PASSPHRASE", "pw")
    settings = Settings()
    assert settings.effective_database_url == "postgresql+psycopg://u@h/db"
    assert "pw" not in repr(settings)
    monkeypatch.setenv("GATE_MODE", "lenient")
    with pytest.raises(InputError, match="GATE_MODE"):
        Settings()
