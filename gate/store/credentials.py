"""Recipient credentials: API tokens created by the CLI, shown once, stored only as hashes.

A token is `wg_<id>_<secret>`: `id` (12 hex characters) is public and finds the row; `secret` is
32 random bytes, URL-safe base64. The store keeps sha256(token) only. A plain, unsalted sha256 is
the right hash here, unlike for passwords: with 256 bits of randomness there is nothing to
brute-force or look up in a table, and a slow hash would only slow every request. The stored
digest is compared with `hmac.compare_digest`, so timing reveals nothing about it.

Failures (unknown, revoked, expired, recipient removed) give the caller one message; the reason
goes to the log, which never sees the token itself (only its public id).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from gate.errors import AuthError, InputError, NotFoundError
from gate.store import audit, recipients
from gate.store.db import Store
from gate.store.recipients import RecipientRecord
from gate.store.schema import credentials as t
from gate.store.schema import recipients as rt

log = logging.getLogger("gate.store.credentials")

_TOKEN = re.compile(r"^wg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
AUTH_FAILED = "invalid, expired or revoked credential"


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    id: str
    recipient_id: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recipient_id": self.recipient_id,
            "label": self.label,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def create_token(
    store: Store,
    recipient_id: str,
    *,
    actor: str,
    expires_at: datetime | None = None,
    label: str | None = None,
) -> tuple[str, CredentialRecord]:
    """Make a token for the recipient. Returns (token, record); the token is not kept anywhere."""
    now = store.now()
    if expires_at is not None and expires_at <= now:
        raise InputError("expires", "the expiry is in the past")
    token_id = secrets.token_hex(6)
    token = f"wg_{token_id}_{secrets.token_urlsafe(32)}"
    with store.write() as conn:
        recipients.get_in(conn, recipient_id)
        conn.execute(
            insert(t),
            {
                "id": token_id,
                "recipient_id": recipient_id,
                "token_sha256": _digest(token),
                "label": label,
                "created_at": now,
                "expires_at": expires_at,
            },
        )
        audit.append(
            conn,
            store,
            "admin",
            {
                "action": "token.create",
                "actor": actor,
                "recipient_id": recipient_id,
                "credential_id": token_id,
                "expires_at": expires_at,
            },
            recipient_id=recipient_id,
        )
    return token, CredentialRecord(token_id, recipient_id, label, now, expires_at, None)


def revoke(store: Store, credential: str, *, actor: str) -> CredentialRecord:
    """Revoke by credential id (or by the whole token, whose id part is used)."""
    match = _TOKEN.match(credential)
    token_id = match.group(1) if match else credential
    with store.write() as conn:
        row = conn.execute(select(t).where(t.c.id == token_id)).first()
        if row is None:
            raise NotFoundError(f"unknown credential {token_id!r}")
        now = store.now()
        if row.revoked_at is None:
            conn.execute(update(t).where(t.c.id == token_id).values(revoked_at=now))
        audit.append(
            conn,
            store,
            "admin",
            {
                "action": "token.revoke",
                "actor": actor,
                "recipient_id": row.recipient_id,
                "credential_id": token_id,
            },
            recipient_id=row.recipient_id,
        )
        return CredentialRecord(
            row.id,
            row.recipient_id,
            row.label,
            row.created_at,
            row.expires_at,
            row.revoked_at or now,
        )


def list_for(store: Store, recipient_id: str) -> list[CredentialRecord]:
    with store.read() as conn:
        rows = conn.execute(
            select(t).where(t.c.recipient_id == recipient_id).order_by(t.c.created_at)
        ).all()
    return [
        CredentialRecord(r.id, r.recipient_id, r.label, r.created_at, r.expires_at, r.revoked_at)
        for r in rows
    ]


# Built once: every request authenticates.
_BY_TOKEN_ID = (
    select(t, rt.c.removed_at.label("recipient_removed_at"))
    .join(rt, rt.c.id == t.c.recipient_id)
    .where(t.c.id == bindparam("token_id"))
)


def authenticate(store: Store, token: str | None) -> RecipientRecord:
    """The recipient a bearer token belongs to; AuthError (one message for every cause)."""
    if not token:
        raise AuthError("a credential is required")
    match = _TOKEN.match(token)
    if match is None:
        log.info("auth failed: malformed token")
        raise AuthError(AUTH_FAILED)
    token_id = match.group(1)
    with store.read() as conn:
        row = conn.execute(_BY_TOKEN_ID, {"token_id": token_id}).first()
        # Compare even when the id is unknown, against a dummy, so both paths cost the same.
        stored = row.token_sha256 if row is not None else "0" * 64
        matches = hmac.compare_digest(stored, _digest(token))
        if row is None or not matches:
            log.info("auth failed: unknown credential %s", token_id)
            raise AuthError(AUTH_FAILED)
        if row.revoked_at is not None:
            log.info("auth failed: credential %s revoked", token_id)
            raise AuthError(AUTH_FAILED)
        if row.expires_at is not None and row.expires_at <= store.now():
            log.info("auth failed: credential %s expired", token_id)
            raise AuthError(AUTH_FAILED)
        if row.recipient_removed_at is not None:
            log.info("auth failed: recipient of credential %s removed", token_id)
            raise AuthError(AUTH_FAILED)
        return recipients.get_in(conn, row.recipient_id)
