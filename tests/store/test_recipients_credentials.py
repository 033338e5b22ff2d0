"""Recipients, tokens and licenses as records."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from gate.core.values import SELF, Party
from gate.errors import AuthError, CountryError, InputError, NotFoundError
from gate.store import credentials, licenses, recipients
from gate.store.db import Store


def test_recipient_facts_map_to_the_core(store: Store) -> None:
    unknown = recipients.add(store, "a", actor="t", name="A", headquarters="Germany")
    assert unknown.to_core().ultimate_parent is None and unknown.headquarters == "DE"
    own = recipients.add(
        store,
        "b",
        actor="t",
        name="B",
        headquarters="USA",
        parent="self",
        destinations=["UK", "US"],
        default_destination="US",
    )
    core = own.to_core()
    assert core.ultimate_parent == SELF and core.id == "b"
    assert own.destinations == ("GB", "US") and own.default_destination == "US"
    child = recipients.add(
        store,
        "c",
        actor="t",
        name="C",
        headquarters="US",
        parent=("Parent Co", "South Korea"),
        attestation=(date(2027, 1, 1), date(2026, 1, 1), "SOC-7"),
    )
    core = child.to_core()
    assert core.ultimate_parent == Party("Parent Co", "KR")
    assert core.security_attestation is not None
    assert core.security_attestation.current_on(date(2026, 6, 1))


def test_update_and_remove(store: Store) -> None:
    recipients.add(store, "a", actor="t", name="A", destinations=["DE"])
    updated = recipients.update_recipient(
        store, "a", actor="t", destinations=["FR"], contacts=["ops@a.example"]
    )
    assert updated.destinations == ("FR",) and updated.default_destination == "FR"
    recipients.remove(store, "a", actor="t")
    with pytest.raises(NotFoundError, match="unknown recipient 'a'"):
        recipients.get(store, "a")
    assert [r.id for r in recipients.list_all(store, include_removed=True)] == ["a"]


def test_bad_recipient_input(store: Store) -> None:
    with pytest.raises(CountryError):
        recipients.add(store, "a", actor="t", name="A", headquarters="Atlantis")
    with pytest.raises(InputError, match="id"):
        recipients.add(store, "Not Valid", actor="t", name="A")
    with pytest.raises(NotFoundError):
        recipients.update_recipient(store, "ghost", actor="t", name="x")
    assert recipients.list_all(store) == []


def test_token_is_stored_only_as_a_hash_and_authenticates(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    recipients.add(store, "a", actor="t", name="A")
    token, record = credentials.create_token(store, "a", actor="t")
    assert token.startswith(f"wg_{record.id}_")
    with store.read() as conn:
        dump = " ".join(
            str(v) for row in conn.execute(text("SELECT * FROM credentials")) for v in row
        )
        bodies = " ".join(r[0] for r in conn.execute(text("SELECT body FROM audit_entries")))
    # Everything after the id: the secret is URL-safe base64 and may itself hold "_" (splitting
    # at the last one took a short tail that sometimes occurred in a hash by chance).
    secret = token[len(f"wg_{record.id}_") :]
    assert secret not in dump and secret not in bodies
    assert credentials.authenticate(store, token).id == "a"

    caplog.set_level(logging.INFO, logger="gate.store.credentials")
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (wrong, "wg_000000000000_" + "A" * 43, "garbage"):
        with pytest.raises(AuthError, match="invalid, expired or revoked credential"):
            credentials.authenticate(store, bad)
    assert secret not in caplog.text
    with pytest.raises(AuthError):
        credentials.authenticate(store, None)


def test_revoked_expired_and_removed_tokens_fail_alike(store: Store) -> None:
    recipients.add(store, "a", actor="t", name="A")
    revoked, rec = credentials.create_token(store, "a", actor="t")
    credentials.revoke(store, rec.id, actor="t")
    soon = store.now() + timedelta(seconds=1)
    expiring, exp_rec = credentials.create_token(store, "a", actor="t", expires_at=soon)
    with store.write() as conn:  # let it expire without sleeping
        conn.execute(
            text("UPDATE credentials SET expires_at = created_at WHERE id = :i"), {"i": exp_rec.id}
        )
    live, _ = credentials.create_token(store, "a", actor="t")
    recipients.remove(store, "a", actor="t")
    for token in (revoked, expiring, live):
        with pytest.raises(AuthError, match="invalid, expired or revoked credential"):
            credentials.authenticate(store, token)
    with pytest.raises(InputError, match="past"):
        credentials.create_token(store, "a", actor="t", expires_at=store.now())


def test_licenses(store: Store) -> None:
    recipients.add(store, "a", actor="t", name="A")
    lic = licenses.add(
        store,
        "D1",
        recipient_id="a",
        models=["4e091"],
        destinations=["India"],
        valid_until=date(2026, 12, 31),
        valid_from=date(2026, 1, 1),
        conditions="no re-export",
        actor="o",
    )
    assert lic.models == ("4E091",) and lic.destinations == ("IN",)
    assert lic.to_core().valid_on(date(2026, 6, 1))
    with store.read() as conn:
        assert [x.number for x in licenses.usable_for(conn, "a", date(2026, 6, 1))] == ["D1"]
        assert licenses.usable_for(conn, "a", date(2027, 1, 1)) == []
    with pytest.raises(InputError, match="already on record"):
        licenses.add(
            store,
            "D1",
            recipient_id="a",
            models=["x/y"],
            destinations=["IN"],
            valid_until=date(2026, 12, 31),
            actor="o",
        )
    licenses.revoke(store, "D1", reason="BIS revoked", actor="o")
    with store.read() as conn:
        assert licenses.usable_for(conn, "a", date(2026, 6, 1)) == []
    with pytest.raises(NotFoundError):
        licenses.get(store, "D2")
    with pytest.raises(NotFoundError):
        licenses.add(
            store,
            "D3",
            recipient_id="ghost",
            models=["x/y"],
            destinations=["IN"],
            valid_until=date(2026, 12, 31),
            actor="o",
        )
