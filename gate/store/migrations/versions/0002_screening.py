"""Restricted-party screening: list versions, entries, and screening results.

Revision ID: 0002_screening
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002_screening"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "screening_lists",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("list_date", sa.Date, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("file_name", sa.String(500)),
        sa.Column("imported_by", sa.String(200), nullable=False),
        _ts("imported_at", False),
    )
    op.create_table(
        "screening_entries",
        sa.Column("entry_hash", sa.String(64), primary_key=True),
        sa.Column("uid", sa.String(200), nullable=False, index=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "screening_list_entries",
        sa.Column("list_id", sa.Integer, sa.ForeignKey("screening_lists.id"), primary_key=True),
        sa.Column(
            "entry_hash",
            sa.String(64),
            sa.ForeignKey("screening_entries.entry_hash"),
            primary_key=True,
        ),
    )
    op.create_table(
        "screening_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recipient_id", sa.String(100), sa.ForeignKey("recipients.id"), nullable=False),
        sa.Column("party", sa.String(10), nullable=False),
        sa.Column("party_name", sa.String(300), nullable=False),
        sa.Column("party_country", sa.String(2)),
        sa.Column("list_id", sa.Integer, sa.ForeignKey("screening_lists.id"), nullable=False),
        sa.Column("entry_uid", sa.String(200)),
        sa.Column("entry_hash", sa.String(64)),
        sa.Column("matched_name", sa.String(500)),
        sa.Column("score", sa.Float),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        _ts("screened_at", False),
        sa.Column("reviewed_by", sa.String(200)),
        sa.Column("review_reason", sa.Text),
        _ts("reviewed_at"),
        sa.Column("carried_from", sa.Integer),
    )
    op.create_index(
        "ix_screening_results_recipient", "screening_results", ["recipient_id", "is_current"]
    )


def downgrade() -> None:
    op.drop_index("ix_screening_results_recipient", "screening_results")
    op.drop_table("screening_results")
    op.drop_table("screening_list_entries")
    op.drop_table("screening_entries")
    op.drop_table("screening_lists")
