"""Snapshot bundles follow the records (issue 11, item 7): any change to a recipient, license,
designation, override or classification moves the records generation, and a bundle kept under
the old generation is no longer found, in any process (they all read the same row)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from gate.core.values import ModelFacts
from gate.store import bundles, licenses, models, recipients
from gate.store.db import Store

COMMIT = "f" * 40


def test_every_kind_of_change_moves_the_generation(store: Store) -> None:
    seen = [bundles.current_generation(store)]

    def moved() -> None:
        now = bundles.current_generation(store)
        assert now > seen[-1]
        seen.append(now)

    recipients.add(store, "acme", actor="t", name="Acme", headquarters="US", parent="self")
    moved()
    recipients.update_recipient(store, "acme", actor="t", destinations=["US", "DE"])
    moved()
    licenses.add(
        store,
        "L-1",
        recipient_id="acme",
        models=["org/m"],
        destinations=["DE"],
        valid_until=date(2027, 1, 1),
        actor="o",
    )
    moved()
    licenses.revoke(store, "L-1", reason="x", actor="o")
    moved()
    models.designate(store, "org/m", reason="letter", actor="o")
    moved()
    models.undesignate(store, "org/m", reason="withdrawn", actor="o")
    moved()
    models.classify(store, "org/m", actor="o", reason="r", published=True)
    moved()
    models.set_trained_for(store, "org/m", "acme", actor="o")
    moved()
    # A commit's first classification is what any bundle of it was built on: no move.
    models.record_classification(store, ModelFacts(repo_id="org/m", commit=COMMIT))
    models.record_classification(store, ModelFacts(repo_id="org/m", commit=COMMIT))
    assert bundles.current_generation(store) == seen[-1]
    models.reclassify(store, ModelFacts(repo_id="org/m", commit=COMMIT, published=True))
    moved()


def test_a_kept_bundle_is_not_served_after_a_change(
    store: Store, make_store: Callable[..., Store]
) -> None:
    other = make_store()  # another replica on the same records
    recipients.add(store, "acme", actor="t", name="Acme", headquarters="US", parent="self")
    gen = bundles.current_generation(store)
    assert bundles.keep(store, "acme", "Org/M", COMMIT, 7, gen, b"first") == b"first"
    # First kept wins, whichever replica builds too.
    assert bundles.keep(other, "acme", "org/m", COMMIT, 7, gen, b"second") == b"first"
    assert bundles.stored(other, "acme", "org/m", COMMIT, 8, gen) == b"first"  # next bucket
    models.designate(store, "org/m", reason="letter", actor="o")
    now = bundles.current_generation(other)
    assert now != gen
    assert bundles.stored(other, "acme", "org/m", COMMIT, 7, now) is None
