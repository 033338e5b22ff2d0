"""Reviewing a restricted-party screening hit in the browser (when screening is installed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.console.conftest import OFFICER, Site, signed_in

screening = pytest.importorskip("gate.store.screening")
screening_runs = pytest.importorskip("gate.store.screening_runs")
lists = pytest.importorskip("gate.screening.lists")
DATA = Path(__file__).resolve().parents[1] / "screening" / "data" / "consolidated.json"

pytestmark = pytest.mark.slow


def test_officer_clears_a_possible_match_from_the_queue(browser: Browser, site: Site) -> None:
    if not DATA.exists():
        pytest.skip("the screening fixture list is not in this checkout")
    site.add_recipient("hw", "Huawei Technologies Limited", "DE", "self", "DE")
    screening_runs.import_list(site.gate.store, lists.parse_json(DATA.read_text()), actor="test")
    rid = site.world.recipient_ids["hw"]
    hits = screening.list_results(site.gate.store, recipient_id=rid, status="possible_match")
    assert hits, "the fixture list names a party like this recipient"
    page = signed_in(browser, site)
    region = page.get_by_role("region", name="Screening hits awaiting review")
    region.get_by_role("link", name=f"review hit {hits[0].id}").click()
    page.get_by_label("Reason (required)").fill("different company: German registry number")
    page.get_by_role("button", name="Clear: not the listed party").click()
    expect(page.get_by_role("status")).to_contain_text("Cleared")
    after = screening.list_results(site.gate.store, recipient_id=rid)
    reviewed = next(r for r in after if r.id == hits[0].id)
    assert reviewed.status == "clear" and reviewed.reviewed_by == OFFICER
