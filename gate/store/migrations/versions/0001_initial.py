"""Initial records store: recipients, credentials, licenses, model records, inquiries, audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-05-20
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64
# On SQLite only INTEGER PRIMARY KEY is the rowid itself: entries are then stored in seq order
# with no separate primary key index to update on every append.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "recipients",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("headquarters", sa.String(2)),
        sa.Column("parent_kind", sa.String(10), nullable=False),
        sa.Column("parent_name", sa.String(300)),
        sa.Column("parent_headquarters", sa.String(2)),
        sa.Column("default_destination", sa.String(2)),
        sa.Column("destinations", sa.Text, nullable=False),
        sa.Column("attestation_valid_from", sa.Date),
        sa.Column("attestation_valid_until", sa.Date),
        sa.Column("attestation_reference", sa.String(500)),
        sa.Column("contacts", sa.Text, nullable=False),
        _ts("created_at", False),
        _ts("updated_at", False),
        _ts("removed_at"),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("recipient_id", sa.String(100), sa.ForeignKey("recipients.id"), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200)),
        _ts("created_at", False),
        _ts("expires_at"),
        _ts("revoked_at"),
    )
    op.create_table(
        "licenses",
        sa.Column("number", sa.String(100), primary_key=True),
        sa.Column("recipient_id", sa.String(100), sa.ForeignKey("recipients.id"), nullable=False),
        sa.Column("models", sa.Text, nullable=False),
        sa.Column("destinations", sa.Text, nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("conditions", sa.Text, nullable=False),
        sa.Column("max_transfers", sa.Integer),
        _ts("created_at", False),
        _ts("revoked_at"),
        sa.Column("revoke_reason", sa.Text),
    )
    op.create_table(
        "model_records",
        sa.Column("repo_id", sa.String(300), primary_key=True),
        sa.Column("commit", sa.String(64), primary_key=True),
        sa.Column("facts", sa.Text, nullable=False),
        _ts("updated_at", False),
    )
    op.create_table(
        "model_overrides",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("repo_id", sa.String(300), nullable=False),
        sa.Column("commit", sa.String(64)),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _ts("set_at", False),
    )
    op.create_index("ix_model_overrides_repo_id", "model_overrides", ["repo_id"])
    op.create_table(
        "designations",
        sa.Column("repo_id", sa.String(300), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.String(500)),
        sa.Column("set_by", sa.String(200), nullable=False),
        _ts("set_at", False),
    )
    op.create_table(
        "declarations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("repo_id", sa.String(300), nullable=False),
        sa.Column("commit", sa.String(64)),
        sa.Column("body", sa.Text, nullable=False),
        _ts("received_at", False),
    )
    op.create_index("ix_declarations_repo_id", "declarations", ["repo_id"])
    op.create_table(
        "trained_for",
        sa.Column("repo_id", sa.String(300), primary_key=True),
        sa.Column("recipient_id", sa.String(100), sa.ForeignKey("recipients.id"), primary_key=True),
        sa.Column("set_by", sa.String(200), nullable=False),
        _ts("set_at", False),
    )
    op.create_table(
        "inquiries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("recipient_id", sa.String(100), sa.ForeignKey("recipients.id"), nullable=False),
        sa.Column("repo_id", sa.String(300), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("questions", sa.Text, nullable=False),
        sa.Column("answers", sa.Text),
        _ts("opened_at", False),
        _ts("answered_at"),
        sa.Column("reviewed_by", sa.String(200)),
        sa.Column("review_note", sa.Text),
        _ts("reviewed_at"),
    )
    op.create_index("ix_inquiries_recipient_repo", "inquiries", ["recipient_id", "repo_id"])
    op.create_table(
        "audit_entries",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _ts("recorded_at", False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("ref", sa.String(64), unique=True),
        sa.Column("recipient_id", sa.String(100)),
        sa.Column("repo_id", sa.String(300)),
        sa.Column("license_used", sa.String(100)),
        sa.Column("verdict", sa.String(20)),
        sa.Column("allowed", sa.Boolean),
    )
    op.create_index("ix_audit_entries_recorded_at", "audit_entries", ["recorded_at"])
    op.create_index("ix_audit_entries_license_used", "audit_entries", ["license_used"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("checkpoint_seq", sa.BigInteger, nullable=False),
        _ts("checkpoint_at", False),
    )
    # The chain starts from a fixed genesis hash; the head row exists from the start so that
    # every writer locks the same row.
    op.bulk_insert(
        head,
        [
            {
                "id": 1,
                "seq": 0,
                "hash": GENESIS,
                "checkpoint_seq": 0,
                "checkpoint_at": datetime.now(UTC),
            }
        ],
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        _ts("signed_at", False),
        sa.Column("key_id", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "audit_checkpoints",
        "audit_head",
        "audit_entries",
        "inquiries",
        "trained_for",
        "declarations",
        "designations",
        "model_overrides",
        "model_records",
        "licenses",
        "credentials",
        "recipients",
    ):
        op.drop_table(table)
