"""An approval binds to the answers the officer reviewed (issue 11, item 1).

Answers are versioned; approving names the version when the answers changed; a newer version
than the one named is refused; the approval says what it changed in the recipient's record; a
reviewed inquiry's answers cannot change; an answer racing an approval never slips under it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.cli.main import run
from gate.errors import InputError, StoreError
from gate.store import inquiries, recipients
from gate.store.db import Store, open_store

REPO = "org/frontier"


def _held_inquiry(store: Store, recipient: str = "gamma") -> str:
    recipients.add(
        store,
        recipient,
        actor="t",
        name="Gamma",
        headquarters="IN",
        parent="self",
        destinations=["US"],
    )
    with store.write() as conn:
        return inquiries.open_or_reuse(conn, store, recipient, REPO, ["destination", "end_use"])


def _answers(destination: str, use: str = "research") -> dict[str, str]:
    return {"destination": destination, "end_use": use}


def test_versions_are_counted_and_kept(store: Store) -> None:
    inquiry_id = _held_inquiry(store)
    first = inquiries.answer(store, inquiry_id, _answers("US"), by="gamma")
    assert first.answers_version == 1
    second = inquiries.answer(store, inquiry_id, _answers("DE"), by="gamma")
    assert second.answers_version == 2
    assert inquiries.answers_version(store, inquiry_id, 1)["destination"] == "US"
    assert inquiries.answers_version(store, inquiry_id, 2)["destination"] == "DE"
    assert second.to_dict()["answers_version"] == 2


def test_changed_answers_need_the_version_named(store: Store) -> None:
    inquiry_id = _held_inquiry(store)
    inquiries.answer(store, inquiry_id, _answers("US"), by="gamma")
    inquiries.answer(store, inquiry_id, _answers("FR"), by="gamma")
    with pytest.raises(InputError, match="changed after their first submission"):
        inquiries.review(store, inquiry_id, approve=True, reviewer="o", note="ok")
    with pytest.raises(InputError, match="newer version"):
        inquiries.review(store, inquiry_id, approve=True, reviewer="o", note="ok", version=1)
    with pytest.raises(InputError, match="no answers version 3"):
        inquiries.review(store, inquiry_id, approve=True, reviewer="o", note="ok", version=3)
    # Nothing was written by the refusals.
    assert inquiries.get(store, inquiry_id).status == "answered"
    assert recipients.get(store, "gamma").default_destination == "US"
    done = inquiries.review(store, inquiry_id, approve=True, reviewer="o", note="ok", version=2)
    assert done.status == "completed" and done.reviewed_version == 2
    # The approval says what it changed: the destination answer moved the default destination.
    assert done.recipient_changes["default_destination"] == {"from": "US", "to": "FR"}
    assert recipients.get(store, "gamma").default_destination == "FR"


def test_first_submission_approves_without_a_version(store: Store) -> None:
    inquiry_id = _held_inquiry(store)
    inquiries.answer(store, inquiry_id, _answers("US"), by="gamma")
    done = inquiries.review(store, inquiry_id, approve=True, reviewer="o", note="ok")
    assert done.reviewed_version == 1
    assert done.recipient_changes == {}  # US was already the default


@pytest.mark.parametrize("approve", [True, False])
def test_reviewed_answers_cannot_change(store: Store, approve: bool) -> None:
    inquiry_id = _held_inquiry(store)
    inquiries.answer(store, inquiry_id, _answers("US"), by="gamma")
    inquiries.review(store, inquiry_id, approve=approve, reviewer="o", note="x", version=1)
    with pytest.raises(InputError, match="can no longer change"):
        inquiries.answer(store, inquiry_id, _answers("CN"), by="gamma")
    assert inquiries.get(store, inquiry_id).answers == _answers("US")


def test_an_answer_racing_an_approval_never_slips_under_it(
    make_store: Callable[..., Store], database_url: str
) -> None:
    """The officer approves version 1 while the recipient re-answers with another destination.

    Two stores (two connection pools, as two processes would have) race 12 times. Whichever
    lands first, exactly one of the two succeeds, and an approval only ever applies version 1.
    """
    officer, recipient = make_store(), make_store()
    for round_ in range(12):
        _race_once(officer, recipient, f"r{round_}")


def _race_once(officer: Store, recipient: Store, name: str) -> None:
    inquiry_id = _held_inquiry(officer, name)
    inquiries.answer(officer, inquiry_id, _answers("US"), by=name)
    start = threading.Barrier(2)
    result: dict[str, bool] = {}

    def approve() -> None:
        start.wait()
        try:
            inquiries.review(officer, inquiry_id, approve=True, reviewer="o", note="ok", version=1)
            result["approve"] = True
        except (InputError, StoreError):
            result["approve"] = False

    def reanswer() -> None:
        start.wait()
        try:
            inquiries.answer(recipient, inquiry_id, _answers("CN"), by=name)
            result["answer"] = True
        except (InputError, StoreError):
            result["answer"] = False

    threads = [threading.Thread(target=approve), threading.Thread(target=reanswer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert result["approve"] != result["answer"], result
    record = inquiries.get(officer, inquiry_id)
    if result["approve"]:
        assert record.status == "completed" and record.reviewed_version == 1
        assert record.answers == _answers("US")
    else:
        assert record.status == "answered" and record.answers_version == 2
    assert recipients.get(officer, name).default_destination == "US"


def test_cli_approve_refuses_changed_answers_with_exit_2(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATE_KEY_PASSPHRASE", raising=False)
    store = open_store(database_url)
    try:
        inquiry_id = _held_inquiry(store)
        inquiries.answer(store, inquiry_id, _answers("US"), by="gamma")
        inquiries.answer(store, inquiry_id, _answers("JP"), by="gamma")
    finally:
        store.close()
    db = ("--db", database_url)
    assert run(["inquiries", "show", inquiry_id, *db]) == 0
    out = capsys.readouterr().out
    assert "2 of 2" in out and "changed after the first submission" in out
    assert run(["inquiries", "show", inquiry_id, "--version", "1", *db]) == 0
    assert "1 of 2" in capsys.readouterr().out
    assert run(["inquiries", "approve", inquiry_id, "--note", "ok", *db]) == 2
    assert "--version 2" in capsys.readouterr().err
    assert run(["inquiries", "approve", inquiry_id, "--note", "ok", "--version", "1", *db]) == 2
    assert "newer version" in capsys.readouterr().err
    code = run(["inquiries", "approve", inquiry_id, "--note", "ok", "--version", "2", *db])
    out = capsys.readouterr().out
    assert code == 0
    assert 'default_destination "US" -> "JP"' in out
