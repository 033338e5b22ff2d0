"""Records that hold: answer versions, license transfer counts, the records generation, and
repository ids matched as the hub matches them (lower case).

Revision ID: 0004_records
Revises: 0003_officers
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0004_records"
down_revision = "0003_officers"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _lower_repo_ids(table: str, key: tuple[str, ...]) -> None:
    """Rewrite repo_id to its lower-case key; a row that would collide with one already keyed
    so is dropped (the keyed row is the one the records matched before)."""
    conn = op.get_bind()
    t = sa.table(table, *(sa.column(c) for c in key))
    rows = conn.execute(sa.select(t).where(t.c.repo_id != sa.func.lower(t.c.repo_id)))
    for row in rows.mappings().all():
        lowered = {**row, "repo_id": str(row["repo_id"]).lower()}

        def match(values: dict[str, object]) -> sa.ColumnElement[bool]:
            return sa.and_(*(t.c[c] == values[c] for c in key))

        exists = conn.execute(sa.select(t).where(match(lowered))).first()
        if exists is not None:
            conn.execute(sa.delete(t).where(match(dict(row))))
        else:
            conn.execute(sa.update(t).where(match(dict(row))).values(repo_id=lowered["repo_id"]))


def upgrade() -> None:
    with op.batch_alter_table("inquiries") as batch:
        batch.add_column(sa.Column("answers_version", sa.Integer))
        batch.add_column(sa.Column("reviewed_version", sa.Integer))
    op.create_table(
        "inquiry_answers",
        sa.Column("inquiry_id", sa.String(40), sa.ForeignKey("inquiries.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("answered_by", sa.String(200), nullable=False),
        _ts("answered_at", False),
    )
    op.create_table(
        "license_transfers",
        sa.Column(
            "license_number", sa.String(100), sa.ForeignKey("licenses.number"), primary_key=True
        ),
        sa.Column("recipient_id", sa.String(100), primary_key=True),
        sa.Column("repo_id", sa.String(300), primary_key=True),
        sa.Column("commit", sa.String(64), primary_key=True),
        sa.Column("file", sa.String(1000), primary_key=True),
        sa.Column("decision_id", sa.String(64), nullable=False),
        _ts("counted_at", False),
    )
    generation = op.create_table(
        "records_generation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(generation, [{"id": 1, "generation": 1}])
    # Answers given before versions existed become version 1.
    op.execute("UPDATE inquiries SET answers_version = 1 WHERE answers IS NOT NULL")
    for table, key in (
        ("designations", ("repo_id",)),
        ("trained_for", ("repo_id", "recipient_id")),
        ("model_records", ("repo_id", "commit")),
    ):
        _lower_repo_ids(table, key)
    for table in ("model_overrides", "declarations", "inquiries"):
        op.execute(f"UPDATE {table} SET repo_id = lower(repo_id)")


def downgrade() -> None:
    op.drop_table("records_generation")
    op.drop_table("license_transfers")
    op.drop_table("inquiry_answers")
    with op.batch_alter_table("inquiries") as batch:
        batch.drop_column("reviewed_version")
        batch.drop_column("answers_version")
