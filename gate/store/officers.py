"""Console officers: who may sign in to the compliance console, with which role, and sessions.

An officer acts (approves, rejects, classifies, designates, verifies); a viewer reads. The
password is set once, when the officer is added, and kept as an argon2id hash (argon2-cffi's
defaults). A session is a random token handed to the browser in a cookie; only its sha256 is
stored, with the CSRF token that every form of that session must carry. Adding an officer and
each sign-in and sign-out are entries in the audit chain.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update

from gate.errors import InputError, NotFoundError
from gate.store import audit
from gate.store.db import Store
from gate.store.schema import console_sessions as s
from gate.store.schema import officers as t

Role = Literal["officer", "viewer"]
ROLES: tuple[Role, ...] = ("officer", "viewer")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is only a way to burn CPU
SESSION_HOURS = 8.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_hasher = PasswordHasher()
# Verified when the name is unknown, so a failed sign-in costs the same whether or not the
# officer exists (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Officer:
    name: str
    role: Role
    created_by: str
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def can_act(self) -> bool:
        return self.role == "officer" and self.disabled_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "disabled_at": None if self.disabled_at is None else self.disabled_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: the officer, the CSRF token its forms carry, when it ends."""

    officer: Officer
    csrf: str
    expires_at: datetime


def _officer(row: Any) -> Officer:
    return Officer(row.name, row.role, row.created_by, row.created_at, row.disabled_at)


def check_password(password: str) -> None:
    """InputError unless the password is acceptable (length only: a passphrase is fine)."""
    if len(password) < MIN_PASSWORD:
        raise InputError("password", f"use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError("password", f"use at most {MAX_PASSWORD} characters")


def add(store: Store, name: str, *, role: str, password: str, actor: str) -> Officer:
    """Add an officer with a password set once; InputError when the name is taken or bad."""
    name = name.strip()
    if not _NAME.match(name):
        raise InputError("name", "use letters, digits, '.', '_', '@' or '-' (max 100)")
    if role not in ROLES:
        raise InputError("role", f"expected officer or viewer, got {role!r}")
    check_password(password)
    hashed = _hasher.hash(password)
    now = store.now()
    with store.write() as conn:
        if conn.execute(select(t.c.name).where(t.c.name == name)).first() is not None:
            raise InputError("name", f"officer {name!r} already exists (passwords are set once)")
        conn.execute(
            insert(t),
            {
                "name": name,
                "role": role,
                "password_hash": hashed,
                "created_by": actor,
                "created_at": now,
            },
        )
        audit.append(
            conn,
            store,
            "admin",
            {"action": "officer.add", "actor": actor, "officer": name, "role": role},
        )
        row = conn.execute(select(t).where(t.c.name == name)).one()
    return _officer(row)


def disable(store: Store, name: str, *, actor: str, reason: str) -> Officer:
    """Stop an officer from signing in; their open sessions end at once. Not undone: add the
    person again under a new name (a password is set once)."""
    if not reason.strip():
        raise InputError("reason", "say why (it goes to the audit chain)")
    with store.write() as conn:
        row = conn.execute(select(t).where(t.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"unknown officer {name!r}")
        if row.disabled_at is not None:
            raise InputError("name", f"officer {name!r} is already disabled")
        conn.execute(update(t).where(t.c.name == name).values(disabled_at=store.now()))
        conn.execute(delete(s).where(s.c.officer == name))
        audit.append(
            conn,
            store,
            "admin",
            {"action": "officer.disable", "actor": actor, "officer": name, "reason": reason},
        )
        return _officer(conn.execute(select(t).where(t.c.name == name)).one())


def get(store: Store, name: str) -> Officer:
    with store.read() as conn:
        row = conn.execute(select(t).where(t.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"unknown officer {name!r}")
    return _officer(row)


def list_all(store: Store) -> list[Officer]:
    with store.read() as conn:
        return [_officer(r) for r in conn.execute(select(t).order_by(t.c.name))]


def authenticate(store: Store, name: str, password: str) -> Officer | None:
    """The officer when the name and password match an enabled officer, else None."""
    if len(password) > MAX_PASSWORD:
        return None
    row = None
    if _NAME.match(name):  # anything else (a NUL byte, say) cannot be a name: not even asked
        with store.read() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
    stored = _DUMMY_HASH if row is None else str(row.password_hash)
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    return _officer(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(store: Store, officer: Officer, *, client: str | None = None) -> str:
    """Open a session for a signed-in officer; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = store.now()
    with store.write() as conn:
        conn.execute(delete(s).where(s.c.expires_at < now))  # keep the table small
        conn.execute(
            insert(s),
            {
                "token_sha256": _digest(token),
                "officer": officer.name,
                "csrf": secrets.token_urlsafe(32),
                "created_at": now,
                "expires_at": now + timedelta(hours=SESSION_HOURS),
            },
        )
        audit.append(
            conn,
            store,
            "admin",
            {"action": "console.sign_in", "actor": officer.name, "client": client},
        )
    return token


def session(store: Store, token: str) -> Session | None:
    """The live session of this token (not expired, officer enabled), else None."""
    if not token or len(token) > 200:
        return None
    with store.read() as conn:
        row = conn.execute(
            select(s.c.csrf, s.c.expires_at, t)
            .join(t, t.c.name == s.c.officer)
            .where(s.c.token_sha256 == _digest(token))
        ).first()
    if row is None or row.expires_at <= store.now() or row.disabled_at is not None:
        return None
    return Session(_officer(row), str(row.csrf), row.expires_at)


def end_session(store: Store, token: str) -> None:
    """Sign out: the token stops working at once."""
    with store.write() as conn:
        found = conn.execute(select(s.c.officer).where(s.c.token_sha256 == _digest(token))).first()
        if found is None:
            return
        conn.execute(delete(s).where(s.c.token_sha256 == _digest(token)))
        audit.append(
            conn, store, "admin", {"action": "console.sign_out", "actor": str(found.officer)}
        )
