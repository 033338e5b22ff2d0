"""The console in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium).

The recipients download through the real huggingface_hub client from the real gate; the
officer works their holds in the console; the next download shows what the officer decided.
The run also writes the screenshots docs/console.md shows.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from huggingface_hub.errors import GatedRepoError
from playwright.sync_api import Browser, expect

from gate.store import audit, inquiries
from tests.console.conftest import FRONTIER, OFFICER, SHARD, VIEWER, Site, signed_in

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs"


def attestation_hold(site: Site, key: str = "rio") -> str:
    """A German recipient sending to Brazil without a security attestation: held for one."""
    site.add_recipient(key, "Rio Labs GmbH", "DE", "self", "BR")
    inquiry_id = site.hold(key)
    until = (date.today() + timedelta(days=200)).isoformat()
    site.answer(
        key, inquiry_id, {"security_attestation": {"valid_until": until, "reference": "A-7"}}
    )
    return inquiry_id


def test_officer_works_a_hold_from_the_queue_to_approval(browser: Browser, site: Site) -> None:
    inquiry_id = attestation_hold(site)
    lumen_inquiry = site.hold("lumen")  # open: waits for Lumen's answers
    page = signed_in(browser, site)
    review = page.get_by_role("region", name="Answered: awaiting an officer's review (1)")
    expect(review.get_by_role("link", name=inquiry_id)).to_be_visible()
    waiting = page.get_by_role("region", name="Holds awaiting the recipient's answers, by basis")
    expect(waiting.get_by_role("link", name=lumen_inquiry)).to_be_visible()
    expect(waiting).to_contain_text("duty_to_inquire")
    page.screenshot(path=str(DOCS / "console-queue.png"), full_page=True)

    review.get_by_role("link", name=inquiry_id).click()
    expect(page.get_by_role("heading", name=f"Inquiry {inquiry_id}")).to_be_visible()
    expect(page.get_by_text("Approving changes the recipient's record")).to_be_visible()
    page.get_by_label("Note for the record (required)").fill("attestation A-7 checked")
    page.get_by_role("button", name="Approve version 1").click()
    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page.locator(".status-completed")).to_have_text("completed")

    got = site.download("rio", "after-approval")
    assert (
        got.read_bytes() == next(m.files for m in site.world.models if m.repo_id == FRONTIER)[SHARD]
    )
    approved = [
        e.payload
        for e in audit.iter_entries(site.gate.store, kind="inquiry")
        if e.payload.get("event") == "approved"
    ]
    assert approved and approved[-1]["reviewer"] == OFFICER
    assert approved[-1]["note"] == "attestation A-7 checked"


def test_officer_rejects_and_the_recipient_stays_refused(browser: Browser, site: Site) -> None:
    inquiry_id = site.hold("lumen")
    site.answer(
        "lumen",
        inquiry_id,
        {
            "export_destinations": ["IN"],
            "end_use": "unclear",
            "license_obligation_acknowledged": True,
        },
    )
    page = signed_in(browser, site)
    page.on("dialog", lambda dialog: dialog.accept())  # "Reject these answers?"
    page.get_by_role("link", name=inquiry_id).click()
    page.get_by_label("Note for the record (required)").fill("end use not credible")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status")).to_contain_text("Rejected")
    assert inquiries.get(site.gate.store, inquiry_id).status == "rejected"
    assert inquiries.get(site.gate.store, inquiry_id).reviewed_by == OFFICER
    with pytest.raises(GatedRepoError):
        site.download("lumen", "after-reject")


def test_filter_decisions_and_export_the_filtered_list(browser: Browser, site: Site) -> None:
    for key in ("shenzhen", "jakarta"):
        with pytest.raises(GatedRepoError):
            site.download(key, key)
    site.download("nordic", "nordic")
    page = signed_in(browser, site)
    page.get_by_role("link", name="Decisions").click()
    page.get_by_label("Verdict").select_option("deny")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#decisions tbody tr")
    expect(rows.first).to_be_visible()
    verdicts = page.locator("#decisions tbody tr td:nth-child(6)").all_inner_texts()
    assert verdicts and all(v.startswith("deny") for v in verdicts)
    with page.expect_download() as caught:
        page.get_by_role("link", name="Export these as CSV").click()
    text = Path(caught.value.path()).read_text()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == len(verdicts)
    assert {r["verdict"] for r in exported} == {"deny"}
    assert {r["recipient"] for r in exported} == {site.world.recipient_ids["shenzhen"]}
    # One decision opened shows its reasons and its place in the chain.
    page.locator("#decisions tbody tr a").first.click()
    expect(page.get_by_role("heading", name="Reasons and citations")).to_be_visible()
    expect(page.get_by_role("heading", name="Place in the audit chain")).to_be_visible()


def test_a_viewer_reads_but_cannot_act(browser: Browser, site: Site) -> None:
    inquiry_id = attestation_hold(site)
    page = signed_in(browser, site, VIEWER)
    page.get_by_role("link", name=inquiry_id).click()
    expect(page.get_by_text("You are signed in as a viewer")).to_be_visible()
    expect(page.get_by_role("button", name="Approve version 1")).to_have_count(0)
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    response = page.request.post(
        f"/inquiries/{inquiry_id}/review",
        form={
            "csrf": csrf or "",
            "version": "1",
            "digest": "x",
            "decision": "approve",
            "note": "sneaky",
        },
    )
    assert response.status == 403
    assert inquiries.get(site.gate.store, inquiry_id).status == "answered"


def test_dashboard_keyboard_and_narrow_window(browser: Browser, site: Site) -> None:
    for key in ("shenzhen", "jakarta"):
        with pytest.raises(GatedRepoError):
            site.download(key, key)
    site.download("nordic", "nordic")
    site.download("example", "example")
    site.hold("lumen")
    page = signed_in(browser, site)
    page.goto("/dashboard")
    table = page.locator("#per-day")
    expect(table.locator("tbody tr")).to_have_count(1)  # today only
    row = table.locator("tbody tr").first.inner_text().split()
    # today's numbers: allow, license_required, hold, deny (counted from the chain)
    assert [int(x) for x in row[1:]][3] >= 1 and [int(x) for x in row[1:]][1] >= 1
    expect(page.locator("svg.chart").first).to_be_visible()
    page.screenshot(path=str(DOCS / "console-dashboard.png"), full_page=True)
    # Keyboard: the first Tab lands on the skip link, which moves focus to the content.
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # A narrow window: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 800})
    for path in ("/", "/decisions", "/dashboard"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
