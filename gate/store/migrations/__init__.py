"""Alembic migrations of the records store (run by `gate.store.db.open_store`)."""
