"""The store's tables, as SQLAlchemy Core metadata the queries use.

The migrations in `gate/store/migrations/versions/` create the same tables; a test checks the two
agree. Lists and small structured values are JSON text (canonical JSON) so SQLite and PostgreSQL
store them the same way. Times are timezone-aware UTC; dates are plain dates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases (SQLite stores it naive, as text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

# On SQLite only INTEGER PRIMARY KEY is the rowid itself: entries are then stored in seq order
# with no separate primary key index to update on every append.
SEQ = BigInteger().with_variant(Integer(), "sqlite")

recipients = Table(
    "recipients",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("headquarters", String(2)),
    # "self" (no parent: its own ultimate parent), "party" (parent_* columns), "unknown".
    Column("parent_kind", String(10), nullable=False),
    Column("parent_name", String(300)),
    Column("parent_headquarters", String(2)),
    Column("default_destination", String(2)),
    Column("destinations", Text, nullable=False),  # JSON list of alpha-2 codes
    Column("attestation_valid_from", Date),
    Column("attestation_valid_until", Date),
    Column("attestation_reference", String(500)),
    Column("contacts", Text, nullable=False),  # JSON list of strings
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime()),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", String(40), primary_key=True),  # the token's public prefix
    Column("recipient_id", String(100), ForeignKey("recipients.id"), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("label", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
)

licenses = Table(
    "licenses",
    metadata,
    Column("number", String(100), primary_key=True),
    Column("recipient_id", String(100), ForeignKey("recipients.id"), nullable=False),
    Column("models", Text, nullable=False),  # JSON list: repo ids, or "4E091"
    Column("destinations", Text, nullable=False),  # JSON list of alpha-2 codes
    Column("valid_from", Date),
    Column("valid_until", Date, nullable=False),
    Column("conditions", Text, nullable=False),
    Column("max_transfers", Integer),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    Column("revoke_reason", Text),
)

model_records = Table(
    "model_records",
    metadata,
    Column("repo_id", String(300), primary_key=True),
    Column("commit", String(64), primary_key=True),
    Column("facts", Text, nullable=False),  # canonical JSON of the classification
    Column("updated_at", UTCDateTime(), nullable=False),
)

model_overrides = Table(
    "model_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("repo_id", String(300), nullable=False, index=True),
    Column("commit", String(64)),  # None: every commit of the repository
    Column("field", String(40), nullable=False),  # published | training_compute | less_capable
    Column("value", Text, nullable=False),  # JSON
    Column("set_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("set_at", UTCDateTime(), nullable=False),
)

designations = Table(
    "designations",
    metadata,
    Column("repo_id", String(300), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("source", String(500)),
    Column("set_by", String(200), nullable=False),
    Column("set_at", UTCDateTime(), nullable=False),
)

declarations = Table(
    "declarations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("repo_id", String(300), nullable=False, index=True),
    Column("commit", String(64)),
    Column("body", Text, nullable=False),  # JSON of the declaration as received
    Column("received_at", UTCDateTime(), nullable=False),
)

trained_for = Table(
    "trained_for",
    metadata,
    Column("repo_id", String(300), primary_key=True),
    Column("recipient_id", String(100), ForeignKey("recipients.id"), primary_key=True),
    Column("set_by", String(200), nullable=False),
    Column("set_at", UTCDateTime(), nullable=False),
)

inquiries = Table(
    "inquiries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("recipient_id", String(100), ForeignKey("recipients.id"), nullable=False),
    Column("repo_id", String(300), nullable=False),
    # open -> answered -> completed | rejected (an answered inquiry is still open to the core)
    Column("status", String(12), nullable=False),
    Column("questions", Text, nullable=False),  # JSON list of {"id", "text"}
    Column("answers", Text),  # JSON object
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("answered_at", UTCDateTime()),
    Column("reviewed_by", String(200)),
    Column("review_note", Text),
    Column("reviewed_at", UTCDateTime()),
    # The version of the answers now in `answers` (1 = first submission), and the version an
    # officer approved or rejected: a review binds to the answers it saw.
    Column("answers_version", Integer),
    Column("reviewed_version", Integer),
    Index("ix_inquiries_recipient_repo", "recipient_id", "repo_id"),
)

inquiry_answers = Table(
    "inquiry_answers",
    metadata,
    # Every submission of answers, kept: `gate inquiries show --version N` and the approval's
    # "what changed" read them.
    Column("inquiry_id", String(40), ForeignKey("inquiries.id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("answers", Text, nullable=False),  # canonical JSON
    Column("answered_by", String(200), nullable=False),
    Column("answered_at", UTCDateTime(), nullable=False),
)

license_transfers = Table(
    "license_transfers",
    metadata,
    # One row per transfer a capped license authorised: the first decision that sent bytes of a
    # parameter file beyond its header, per (license, recipient, repository key, commit, file).
    # Written in the same transaction as that decision's audit entry, which records the claim
    # under "license_claim"; `verify` checks the two agree, so deleting rows (to reset a cap) is
    # detected. The cap counts these rows, never the audit lookup columns.
    Column("license_number", String(100), ForeignKey("licenses.number"), primary_key=True),
    Column("recipient_id", String(100), primary_key=True),
    Column("repo_id", String(300), primary_key=True),
    Column("commit", String(64), primary_key=True),
    Column("file", String(1000), primary_key=True),
    Column("decision_id", String(64), nullable=False),
    Column("counted_at", UTCDateTime(), nullable=False),
)

records_generation = Table(
    "records_generation",
    metadata,
    # One row, bumped by every change to a recipient, license, designation, override or
    # classification: what is built from the records (snapshot bundles) is keyed by it, so a
    # change invalidates it in every worker and replica.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    # The chain: hash = sha256(canonical_json({"payload": body, "prev_hash": ..., "seq": ...})).
    # `seq` is the primary key. That alone rules out a fork: two entries with the same prev_hash
    # would follow the same entry, so both would need its seq + 1. (A UNIQUE index on prev_hash
    # would say the same again at the price of a random B-tree write per append.)
    Column("seq", SEQ, primary_key=True, autoincrement=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("body", Text, nullable=False),  # canonical JSON of the payload: the authority
    # Copies of body fields for lookups; never trusted by verify, export or report.
    Column("recorded_at", UTCDateTime(), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("ref", String(64), unique=True),  # decision id, for `audit show`
    Column("recipient_id", String(100)),
    Column("repo_id", String(300)),
    Column("license_used", String(100), index=True),
    Column("verdict", String(20)),
    Column("allowed", Boolean),
)

audit_head = Table(
    "audit_head",
    metadata,
    # One row; its row lock serialises writers on PostgreSQL (BEGIN IMMEDIATE does on SQLite).
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("checkpoint_seq", BigInteger, nullable=False),
    Column("checkpoint_at", UTCDateTime(), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("entry_hash", String(64), nullable=False),
    Column("signed_at", UTCDateTime(), nullable=False),
    Column("key_id", String(200), nullable=False),
    Column("payload", Text, nullable=False),  # the canonical bytes that were signed
    Column("signature", Text, nullable=False),  # hex of the DER signature
)

officers = Table(
    "officers",
    metadata,
    # The compliance console's people: officers act, viewers read. Passwords are argon2 hashes.
    Column("name", String(100), primary_key=True),
    Column("role", String(10), nullable=False),  # officer | viewer
    Column("password_hash", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    # Only the sha256 of the session token is kept: a database reader cannot sign in with it.
    Column("token_sha256", String(64), primary_key=True),
    Column("officer", String(100), ForeignKey("officers.name"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# Restricted-party screening (gate/store/screening.py): list versions, their entries (stored once
# per content hash, shared by the versions that hold them), and each party's screening results.
screening_lists = Table(
    "screening_lists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(300), nullable=False),
    Column("list_date", Date, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("sources", Text, nullable=False),  # JSON list of the entries' source lists
    Column("file_name", String(500)),
    Column("imported_by", String(200), nullable=False),
    Column("imported_at", UTCDateTime(), nullable=False),
)

screening_entries = Table(
    "screening_entries",
    metadata,
    Column("entry_hash", String(64), primary_key=True),
    Column("uid", String(200), nullable=False, index=True),
    Column("body", Text, nullable=False),  # canonical JSON of the entry
)

screening_list_entries = Table(
    "screening_list_entries",
    metadata,
    Column("list_id", Integer, ForeignKey("screening_lists.id"), primary_key=True),
    Column("entry_hash", String(64), ForeignKey("screening_entries.entry_hash"), primary_key=True),
)

screening_results = Table(
    "screening_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipient_id", String(100), ForeignKey("recipients.id"), nullable=False),
    Column("party", String(10), nullable=False),  # recipient | parent
    Column("party_name", String(300), nullable=False),
    Column("party_country", String(2)),
    Column("list_id", Integer, ForeignKey("screening_lists.id"), nullable=False),
    Column("entry_uid", String(200)),  # None: no hit (status clear)
    Column("entry_hash", String(64)),
    Column("matched_name", String(500)),
    Column("score", Float),
    Column("status", String(20), nullable=False),  # clear | possible_match | match
    Column("is_current", Boolean, nullable=False),
    Column("screened_at", UTCDateTime(), nullable=False),
    Column("reviewed_by", String(200)),
    Column("review_reason", Text),
    Column("reviewed_at", UTCDateTime()),
    Column("carried_from", Integer),  # the reviewed result whose review this one carries
    Index("ix_screening_results_recipient", "recipient_id", "is_current"),
)
