"""Model records: classifications per repository and commit, and what the operator says about them.

- classification: the facts the compute/publication classifiers found (cached per commit);
- overrides: the operator's word on publication status, training compute or the 748.3(f)
  comparison, with who, when and why; a commit-specific override beats a repository-wide one,
  and the latest of each beats older ones;
- designations: models controlled whatever their compute (is-informed letters, the operator);
- declarations received (compute declarations, as verified by `gate.compute`);
- trained-for: the recipients the operator trained the model for (the IaaS red flag).
Every operator action goes to the audit chain.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from gate.core.canonical import canonical_json
from gate.core.values import ComputeInterval, ModelFacts
from gate.errors import InputError, NotFoundError
from gate.model_codec import compute_to_dict, model_facts_from_dict, model_facts_to_dict
from gate.store import audit, generation, recipients
from gate.store.db import Store
from gate.store.repos import repo_key
from gate.store.schema import declarations, designations, model_overrides, model_records
from gate.store.schema import trained_for as tf

OVERRIDE_FIELDS = ("published", "training_compute", "less_capable_than_published")


_repo = repo_key


def save_classification(store: Store, facts: ModelFacts) -> None:
    """Record the classifiers' facts for (repo, commit), once (see `record_classification`)."""
    record_classification(store, facts)


def record_classification(store: Store, facts: ModelFacts) -> ModelFacts:
    """Record the classifiers' facts for (repo, commit), once: the first record wins.

    Replicas that see a new commit at the same moment all classify it; the insert does nothing
    when a record exists (ON CONFLICT DO NOTHING on both databases), and every caller gets the
    one stored record back, so they all decide on the same facts and none gets an error.
    """
    if not facts.commit:
        raise InputError("commit", "a classification binds to a commit")
    key = _repo(facts.repo_id)
    body = canonical_json(model_facts_to_dict(facts)).decode()
    row = {"repo_id": key, "commit": facts.commit, "facts": body, "updated_at": store.now()}
    with store.write() as conn:
        if store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(model_records).values(row).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(model_records).values(row).on_conflict_do_nothing()
        # A first record changes nothing already built from the records (whatever is built for
        # this commit classifies it first), so only `reclassify` moves the generation.
        conn.execute(stmt)
        stored = conn.execute(
            select(model_records.c.facts).where(
                model_records.c.repo_id == key, model_records.c.commit == facts.commit
            )
        ).scalar_one()
    kept = model_facts_from_dict(json.loads(stored))
    return replace(kept, repo_id=facts.repo_id)


def reclassify(store: Store, facts: ModelFacts) -> None:
    """Replace the recorded classification of (repo, commit) (a deliberate re-run)."""
    if not facts.commit:
        raise InputError("commit", "a classification binds to a commit")
    key = _repo(facts.repo_id)
    body = canonical_json(model_facts_to_dict(facts)).decode()
    with store.write() as conn:
        done = conn.execute(
            update(model_records)
            .where(model_records.c.repo_id == key, model_records.c.commit == facts.commit)
            .values(facts=body, updated_at=store.now())
        )
        if not done.rowcount:
            conn.execute(
                insert(model_records),
                {"repo_id": key, "commit": facts.commit, "facts": body, "updated_at": store.now()},
            )
        generation.bump(conn)


def get_classification(store: Store, repo_id: str, commit: str) -> ModelFacts | None:
    with store.read() as conn:
        row = conn.execute(
            select(model_records.c.facts).where(
                model_records.c.repo_id == _repo(repo_id), model_records.c.commit == commit
            )
        ).first()
    if row is None:
        return None
    return replace(model_facts_from_dict(json.loads(row.facts)), repo_id=repo_id)


def classify(
    store: Store,
    repo_id: str,
    *,
    actor: str,
    reason: str,
    commit: str | None = None,
    published: bool | None = None,
    publication_evidence: str | None = None,
    compute: ComputeInterval | None = None,
    less_capable: bool | None = None,
) -> list[dict[str, Any]]:
    """Record operator overrides (only the fields given); returns the override rows written."""
    repo = _repo(repo_id)
    if not reason.strip():
        raise InputError("reason", "say why (it goes to the record)")
    values: dict[str, Any] = {}
    if published is not None:
        values["published"] = {"value": published, "evidence": publication_evidence}
    if compute is not None:
        values["training_compute"] = compute_to_dict(compute)
    if less_capable is not None:
        values["less_capable_than_published"] = {"value": less_capable}
    if not values:
        raise InputError("", "give at least one of --published, --compute, --less-capable")
    now = store.now()
    rows = [
        {
            "repo_id": repo,
            "commit": commit,
            "field": name,
            "value": canonical_json(value).decode(),
            "set_by": actor,
            "reason": reason,
            "set_at": now,
        }
        for name, value in values.items()
    ]
    with store.write() as conn:
        conn.execute(insert(model_overrides), rows)
        generation.bump(conn)
        audit.append(
            conn,
            store,
            "admin",
            {
                "action": "model.classify",
                "actor": actor,
                "repo_id": repo,
                "commit": commit,
                "overrides": values,
                "reason": reason,
            },
            repo_id=repo,
        )
    return [{**r, "value": values[str(r["field"])]} for r in rows]


def designate(
    store: Store, repo_id: str, *, reason: str, actor: str, source: str | None = None
) -> None:
    """Designate a model: controlled whatever its compute."""
    repo = _repo(repo_id)
    if not reason.strip():
        raise InputError("reason", "a designation needs a reason")
    with store.write() as conn:
        conn.execute(delete(designations).where(designations.c.repo_id == repo))
        generation.bump(conn)
        conn.execute(
            insert(designations),
            {
                "repo_id": repo,
                "reason": reason,
                "source": source,
                "set_by": actor,
                "set_at": store.now(),
            },
        )
        audit.append(
            conn,
            store,
            "admin",
            {
                "action": "model.designate",
                "actor": actor,
                "repo_id": repo,
                "reason": reason,
                "source": source,
            },
            repo_id=repo,
        )


def undesignate(store: Store, repo_id: str, *, reason: str, actor: str) -> None:
    repo_id = _repo(repo_id)
    with store.write() as conn:
        result = conn.execute(delete(designations).where(designations.c.repo_id == repo_id))
        if result.rowcount == 0:
            raise NotFoundError(f"{repo_id} is not designated")
        generation.bump(conn)
        audit.append(
            conn,
            store,
            "admin",
            {"action": "model.undesignate", "actor": actor, "repo_id": repo_id, "reason": reason},
            repo_id=repo_id,
        )


def set_trained_for(store: Store, repo_id: str, recipient_id: str, *, actor: str) -> None:
    """Record that the operator trained this model for the recipient (IaaS red flag input)."""
    repo = _repo(repo_id)
    with store.write() as conn:
        recipients.get_in(conn, recipient_id)
        exists = conn.execute(
            select(tf.c.repo_id).where(tf.c.repo_id == repo, tf.c.recipient_id == recipient_id)
        ).first()
        if exists is None:
            generation.bump(conn)
            conn.execute(
                insert(tf),
                {
                    "repo_id": repo,
                    "recipient_id": recipient_id,
                    "set_by": actor,
                    "set_at": store.now(),
                },
            )
        audit.append(
            conn,
            store,
            "admin",
            {
                "action": "model.trained_for",
                "actor": actor,
                "repo_id": repo,
                "recipient_id": recipient_id,
            },
            repo_id=repo,
            recipient_id=recipient_id,
        )


# Statements built once: every decision runs these (see recipients._BY_ID).
_TRAINED_FOR = select(tf.c.repo_id).where(
    tf.c.repo_id == bindparam("repo_id"), tf.c.recipient_id == bindparam("recipient_id")
)
_DESIGNATION = select(designations).where(designations.c.repo_id == bindparam("repo_id"))
_OVERRIDES = (
    select(model_overrides)
    .where(model_overrides.c.repo_id == bindparam("repo_id"))
    .order_by(model_overrides.c.id)
)


def trained_for_in(conn: Connection, repo_id: str, recipient_id: str) -> bool:
    key = _repo(repo_id)
    found = conn.execute(_TRAINED_FOR, {"repo_id": key, "recipient_id": recipient_id})
    return found.first() is not None


def record_declaration(
    store: Store, repo_id: str, body: dict[str, Any], *, commit: str | None = None
) -> str:
    """Keep a compute declaration as received (already verified by its reader); returns its id."""
    declaration_id = f"decl_{secrets.token_hex(8)}"
    repo_id = _repo(repo_id)
    with store.write() as conn:
        conn.execute(
            insert(declarations),
            {
                "id": declaration_id,
                "repo_id": _repo(repo_id),
                "commit": commit,
                "body": canonical_json(body).decode(),
                "received_at": store.now(),
            },
        )
        audit.append(
            conn,
            store,
            "admin",
            {
                "action": "model.declaration",
                "repo_id": repo_id,
                "commit": commit,
                "declaration_id": declaration_id,
                "declaration": body,
            },
            repo_id=repo_id,
        )
    return declaration_id


def fold_in(conn: Connection, facts: ModelFacts) -> ModelFacts:
    """The facts with the operator's designation and overrides applied (overrides win)."""
    key = _repo(facts.repo_id)
    row = conn.execute(_DESIGNATION, {"repo_id": key}).first()
    if row is not None:
        facts = replace(facts, designated=True, designation_reason=row.reason)
    rows = conn.execute(_OVERRIDES, {"repo_id": key}).all()
    chosen: dict[str, Any] = {}
    # Repository-wide first, then commit-specific, each oldest first: the last write wins.
    for override in sorted(rows, key=lambda r: (r.commit is not None, r.id)):
        if override.commit is None or override.commit == facts.commit:
            chosen[override.field] = override
    for name, override in chosen.items():
        value = json.loads(override.value)
        note = f"operator override by {override.set_by} on {override.set_at:%Y-%m-%d}: "
        note += override.reason
        if name == "published":
            evidence = value.get("evidence") or note
            facts = replace(facts, published=value["value"], publication_evidence=evidence)
        elif name == "training_compute":
            interval = ComputeInterval(
                value.get("low"),
                value.get("high"),
                value.get("central"),
                "recorded",
                (*value.get("evidence", ()), note),
            )
            facts = replace(facts, training_compute=interval)
        elif name == "less_capable_than_published":
            facts = replace(facts, less_capable_than_published=bool(value["value"]))
    return facts


def show(store: Store, repo_id: str) -> dict[str, Any]:
    """Everything on record for a repository (matched by its key, any case)."""
    repo_id = _repo(repo_id)
    with store.read() as conn:
        classifications = conn.execute(
            select(model_records).where(model_records.c.repo_id == repo_id)
        ).all()
        overrides = conn.execute(
            select(model_overrides)
            .where(model_overrides.c.repo_id == repo_id)
            .order_by(model_overrides.c.id)
        ).all()
        designation = conn.execute(
            select(designations).where(designations.c.repo_id == repo_id)
        ).first()
        decls = conn.execute(select(declarations).where(declarations.c.repo_id == repo_id)).all()
        trained = conn.execute(select(tf).where(tf.c.repo_id == repo_id)).all()
    if not (classifications or overrides or designation or decls or trained):
        raise NotFoundError(f"nothing on record for {repo_id!r}")
    return {
        "repo_id": repo_id,
        "classifications": [
            {"commit": r.commit, "facts": json.loads(r.facts), "updated_at": r.updated_at}
            for r in classifications
        ],
        "overrides": [
            {
                "commit": r.commit,
                "field": r.field,
                "value": json.loads(r.value),
                "set_by": r.set_by,
                "reason": r.reason,
                "set_at": r.set_at,
            }
            for r in overrides
        ],
        "designation": None
        if designation is None
        else {
            "reason": designation.reason,
            "source": designation.source,
            "set_by": designation.set_by,
            "set_at": designation.set_at,
        },
        "declarations": [
            {
                "id": r.id,
                "commit": r.commit,
                "declaration": json.loads(r.body),
                "received_at": r.received_at,
            }
            for r in decls
        ],
        "trained_for": [
            {"recipient_id": r.recipient_id, "set_by": r.set_by, "set_at": r.set_at}
            for r in trained
        ],
    }
