"""Screening records on both databases: versioned imports, results, reviews, the audit trail."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update

from gate.errors import InputError, NotFoundError, StoreError
from gate.screening.lists import ParsedList, parse_file
from gate.store import audit, generation, recipients, screening, screening_lists, screening_runs
from gate.store.db import Store, open_store
from gate.store.schema import screening_entries, screening_list_entries
from tests.screening.conftest import DATA, changed_list

HUAWEI_LIKE = "Huawei Technologies Limited"


def _count(store: Store, table: object) -> int:
    with store.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def _screening_audit(store: Store, action: str) -> list[dict[str, object]]:
    return [
        dict(e.payload)
        for e in audit.iter_entries(store, kind="screening")
        if e.payload.get("action") == action
    ]


def _add(store: Store, rid: str, name: str, hq: str, parent: object = "self") -> None:
    recipients.add(store, rid, actor="admin", name=name, headquarters=hq, parent=parent)


def test_import_is_versioned_and_a_reimport_of_the_same_content_adds_nothing(
    store: Store, csl: ParsedList
) -> None:
    first = screening_runs.import_list(store, csl, actor="officer", file_name="consolidated.json")
    assert first.created
    assert first.version.entry_count == 12
    assert first.version.list_date == date(2026, 11, 27)
    assert first.version.content_hash == csl.content_hash
    assert first.added == 12
    again = screening_runs.import_list(store, csl, actor="officer")
    assert not again.created and again.version.id == first.version.id
    # The CSV form of the same list, with its date given: same content, still nothing new.
    from_csv = parse_file("consolidated.csv", (DATA / "consolidated.csv").read_bytes())
    same = screening_runs.import_list(
        store, from_csv, actor="officer", list_date=date(2026, 11, 30)
    )
    assert not same.created
    assert [v.id for v in screening_lists.versions(store)] == [first.version.id]
    assert _count(store, screening_entries) == 12
    assert _count(store, screening_list_entries) == 12
    imports = _screening_audit(store, "screening.import")
    assert len(imports) == 1
    assert imports[0]["actor"] == "officer"


def test_a_changed_entry_makes_a_new_version_that_names_it(store: Store, csl: ParsedList) -> None:
    screening_runs.import_list(store, csl, actor="officer")
    changed = changed_list("el-huawei-1", alt_names=["Huawei", "Huawei Device Co., Ltd."])
    second = screening_runs.import_list(
        store, changed, actor="officer", list_date=date(2026, 11, 30)
    )
    assert second.created
    assert (second.added, second.changed, second.removed) == (0, 1, 0)
    assert second.version.list_date == date(2026, 11, 30)
    assert _count(store, screening_entries) == 13  # only the changed entry is stored again
    assert _count(store, screening_list_entries) == 24
    assert _screening_audit(store, "screening.import")[-1]["changed_uids"] == ["el-huawei-1"]


def test_a_list_without_a_date_needs_one(store: Store) -> None:
    from_csv = parse_file("consolidated.csv", (DATA / "consolidated.csv").read_bytes())
    with pytest.raises(InputError, match="list-date"):
        screening_runs.import_list(store, from_csv, actor="officer")
    assert screening_lists.versions(store) == []


def test_without_a_list_screening_is_off_and_parties_are_unscreened(store: Store) -> None:
    _add(store, "acme", "Acme Ltd", "DE")
    assert screening_runs.screen_recipient(store, "acme", actor="admin") is None
    assert screening.statuses(store, "acme") == (None, None)
    state = screening_lists.state(store, date(2026, 12, 1))
    assert not state.on
    assert state.warning() is not None and "off" in state.warning()  # type: ignore[operator]


def test_import_screens_every_recipient_and_audits_each_result(
    store: Store, csl: ParsedList
) -> None:
    _add(store, "hw", HUAWEI_LIKE, "CN", parent=("Acme Holdings", "US"))
    _add(store, "acme", "Acme Ltd", "DE")
    result = screening_runs.import_list(store, csl, actor="officer")
    assert result.screened == 2
    assert screening.statuses(store, "hw") == ("possible_match", "clear")
    assert screening.statuses(store, "acme") == ("clear", "clear")  # its own parent
    hits = screening.list_results(store, recipient_id="hw", status="possible_match")
    assert [(h.party, h.entry_uid, h.list_id) for h in hits] == [
        ("recipient", "el-huawei-1", result.version.id)
    ]
    assert hits[0].score is not None and hits[0].score >= 88
    screened = _screening_audit(store, "screening.screen")
    assert {e["list_id"] for e in screened} == {result.version.id}
    assert len(screened) == 2
    assert audit.verify_chain(store).ok


def test_adding_or_changing_a_party_is_screened(store: Store, csl: ParsedList) -> None:
    screening_runs.import_list(store, csl, actor="officer")
    _add(store, "acme", "Acme Ltd", "DE", parent=("Acme Holdings", "US"))
    assert screening.statuses(store, "acme") == (None, None)  # not screened yet
    screening_runs.screen_recipient(store, "acme", actor="admin")
    assert screening.statuses(store, "acme") == ("clear", "clear")
    recipients.update_recipient(store, "acme", actor="admin", parent=("SMIC", "CN"))
    # A result for another parent says nothing about the new one until it is screened.
    assert screening.statuses(store, "acme") == ("clear", None)
    screening_runs.screen_recipient(store, "acme", actor="admin")
    assert screening.statuses(store, "acme") == ("clear", "possible_match")


def test_review_clear_is_audited_and_stays_until_the_entry_changes(
    store: Store, csl: ParsedList
) -> None:
    _add(store, "hw", HUAWEI_LIKE, "CN")
    screening_runs.import_list(store, csl, actor="officer")
    (hit,) = screening.list_results(store, recipient_id="hw", status="possible_match")
    reviewed = screening.review(
        store, hit.id, decision="clear", reason="different company, checked", officer="o.smith"
    )
    assert reviewed.status == "clear" and reviewed.reviewed_by == "o.smith"
    assert screening.statuses(store, "hw") == ("clear", "clear")
    (entry,) = _screening_audit(store, "screening.review")
    assert entry["actor"] == "o.smith" and entry["reason"] == "different company, checked"
    # Screening again against the same entry keeps the review.
    screening_runs.screen_recipient(store, "hw", actor="admin")
    assert screening.statuses(store, "hw") == ("clear", "clear")
    again = screening.list_results(store, recipient_id="hw")
    assert [(r.status, r.reviewed_by) for r in again] == [("clear", "o.smith")]
    # The listed entry changes: the match opens again for review.
    changed = changed_list("el-huawei-1", remarks="Address updated.")
    screening_runs.import_list(store, changed, actor="officer", list_date=date(2026, 11, 30))
    assert screening.statuses(store, "hw") == ("possible_match", "possible_match")
    assert audit.verify_chain(store).ok


def test_a_confirmed_match_stays_confirmed_when_the_entry_changes(
    store: Store, csl: ParsedList
) -> None:
    _add(store, "hw", HUAWEI_LIKE, "CN")
    screening_runs.import_list(store, csl, actor="officer")
    (hit,) = screening.list_results(store, recipient_id="hw", status="possible_match")
    screening.review(store, hit.id, decision="confirm", reason="same address", officer="o.smith")
    assert screening.statuses(store, "hw") == ("match", "match")
    changed = changed_list("el-huawei-1", remarks="Address updated.")
    screening_runs.import_list(store, changed, actor="officer", list_date=date(2026, 11, 30))
    assert screening.statuses(store, "hw") == ("match", "match")


def test_a_review_of_one_party_does_not_carry_to_a_renamed_one(
    store: Store, csl: ParsedList
) -> None:
    _add(store, "hw", HUAWEI_LIKE, "CN")
    screening_runs.import_list(store, csl, actor="officer")
    (hit,) = screening.list_results(store, recipient_id="hw", status="possible_match")
    screening.review(store, hit.id, decision="clear", reason="not them", officer="o.smith")
    recipients.update_recipient(store, "hw", actor="admin", name="Huawei Technologies Research")
    screening_runs.screen_recipient(store, "hw", actor="admin")
    assert screening.statuses(store, "hw")[0] == "possible_match"


def test_reviews_that_cannot_be_made(store: Store, csl: ParsedList) -> None:
    _add(store, "hw", HUAWEI_LIKE, "CN")
    _add(store, "acme", "Acme Ltd", "DE")
    screening_runs.import_list(store, csl, actor="officer")
    (hit,) = screening.list_results(store, recipient_id="hw", status="possible_match")
    (clear,) = screening.list_results(store, recipient_id="acme")
    with pytest.raises(InputError, match="reason"):
        screening.review(store, hit.id, decision="clear", reason="  ", officer="o.smith")
    with pytest.raises(InputError, match="no hit"):
        screening.review(store, clear.id, decision="confirm", reason="x", officer="o.smith")
    with pytest.raises(NotFoundError):
        screening.review(store, 999_999, decision="clear", reason="x", officer="o.smith")
    screening_runs.screen_recipient(store, "hw", actor="admin")
    with pytest.raises(InputError, match="superseded"):
        screening.review(store, hit.id, decision="clear", reason="x", officer="o.smith")
    assert screening.statuses(store, "hw")[0] == "possible_match"


def test_status_says_how_old_the_list_is(store: Store, csl: ParsedList) -> None:
    screening_runs.import_list(store, csl, actor="officer")
    fresh = screening_lists.state(store, date(2026, 12, 1), max_age_days=30)
    assert fresh.on and fresh.age_days == 4 and not fresh.stale and fresh.warning() is None
    old = screening_lists.state(store, date(2027, 3, 1), max_age_days=30)
    assert old.stale and "days old" in (old.warning() or "")


def test_show_gives_the_matched_entry(store: Store, csl: ParsedList) -> None:
    _add(store, "hw", HUAWEI_LIKE, "CN")
    screening_runs.import_list(store, csl, actor="officer")
    (hit,) = screening.list_results(store, recipient_id="hw", status="possible_match")
    result, entry = screening.get_result(store, hit.id)
    assert entry is not None and entry.uid == "el-huawei-1" and entry.hash == result.entry_hash


@pytest.mark.parametrize("threshold", [0.0, 49.9, 100.1])
def test_a_threshold_that_would_flag_everyone_or_no_one_is_refused(
    store: Store, csl: ParsedList, threshold: float
) -> None:
    with pytest.raises(InputError, match="screening_threshold"):
        screening_runs.import_list(store, csl, actor="officer", threshold=threshold)
    assert screening_lists.versions(store) == []


def test_an_entry_edited_in_the_database_stops_screening(store: Store, csl: ParsedList) -> None:
    _add(store, "hw", HUAWEI_LIKE, "CN")
    screening_runs.import_list(store, csl, actor="officer")
    with store.write() as conn:
        body = conn.scalar(
            select(screening_entries.c.body).where(screening_entries.c.uid == "el-huawei-1")
        )
        assert body is not None
        conn.execute(
            update(screening_entries)
            .where(screening_entries.c.uid == "el-huawei-1")
            .values(body=body.replace("Huawei", "Hauwei"))
        )
    other = open_store(str(store.url.render_as_string(hide_password=False)))
    try:
        with pytest.raises(StoreError, match="content hash"):
            screening_runs.screen_recipient(other, "hw", actor="admin")
    finally:
        other.close()


def test_screening_and_reviews_move_the_records_generation(store: Store, csl: ParsedList) -> None:
    # What was built from the records (snapshot bundles) is keyed by the generation: a party's
    # new screening status must invalidate it like any other change to the recipient.
    _add(store, "hw", HUAWEI_LIKE, "CN")
    before = generation.current(store)
    screening_runs.import_list(store, csl, actor="officer")
    screened = generation.current(store)
    assert screened > before
    (hit,) = screening.list_results(store, recipient_id="hw", status="possible_match")
    screening.review(store, hit.id, decision="confirm", reason="same company", officer="o.smith")
    assert generation.current(store) > screened
