"""Snapshot bundles kept in the records, keyed by what they were built from.

A bundle (the `weight-gate.sig` sidecar) vouches for the files a recipient may receive at a
commit, so it depends on the records: the recipient, its licenses, designations, overrides and
the commit's classification. It is kept per (recipient, repository key, commit, time bucket,
records generation) as an audit entry of kind `snapshot`; any change to the records bumps the
generation (`gate.store.generation`), so every worker and replica builds a new bundle on its next
request instead of serving one that no longer holds. The first bundle kept for a key wins (the
client checks a HEAD's size against the GET, so all processes must serve the same bytes).
"""

from __future__ import annotations

from gate.core.canonical import canonical_sha256
from gate.errors import NotFoundError, StoreError
from gate.store import audit, generation
from gate.store.db import Store
from gate.store.repos import repo_key


def bundle_ref(recipient_id: str, repo_id: str, commit: str, bucket: int, gen: int) -> str:
    """The audit ref of a kept bundle (the ref column holds 64 characters)."""
    key = canonical_sha256([recipient_id, repo_key(repo_id), commit, bucket, gen])
    return f"snap_{key[:59]}"


def current_generation(store: Store) -> int:
    """The records generation bundles are keyed by now."""
    return generation.current(store)


def stored(
    store: Store, recipient_id: str, repo_id: str, commit: str, bucket: int, gen: int
) -> bytes | None:
    """The bundle kept for this key in this bucket or the one before, None when there is none."""
    for candidate in (bucket, bucket - 1):
        try:
            entry = audit.get_entry(
                store, bundle_ref(recipient_id, repo_id, commit, candidate, gen)
            )
        except NotFoundError:
            continue
        return str(entry.payload["bundle"]).encode("utf-8")
    return None


def keep(
    store: Store,
    recipient_id: str,
    repo_id: str,
    commit: str,
    bucket: int,
    gen: int,
    data: bytes,
) -> bytes:
    """Keep a freshly built bundle; returns the one kept (another process's when it won)."""
    payload = {
        "recipient_id": recipient_id,
        "repo_id": repo_id,
        "commit": commit,
        "bucket": bucket,
        "records_generation": gen,
        "bundle": data.decode("utf-8"),
    }
    try:
        # Its own transaction: a lost race (the ref is unique) must not fail other appends.
        with store.write() as conn:
            audit.append(
                conn,
                store,
                "snapshot",
                payload,
                ref=bundle_ref(recipient_id, repo_id, commit, bucket, gen),
                recipient_id=recipient_id,
                repo_id=repo_id,
            )
    except StoreError:
        kept = stored(store, recipient_id, repo_id, commit, bucket, gen)
        if kept is None:
            raise
        return kept
    return data
