"""Sign-in, sessions, CSRF and roles over plain HTTP, against the console on loopback.

Written from issue 14: viewers read and officers act; every form carries a CSRF token; the
session cookie is HttpOnly and SameSite=Strict (Secure behind TLS); sign-in is rate-limited;
sign-out ends the session; approvals bind to the answers shown.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from gate.console import chain
from gate.store import audit, inquiries, officers, recipients
from tests.console.conftest import (
    OFFICER,
    PASSWORD,
    VIEWER,
    Site,
    csrf_of,
    review_form,
    sign_in,
    start_site,
)

pytestmark = pytest.mark.slow  # each test starts a gate and a console


def answered_inquiry(site: Site, key: str = "rio") -> str:
    site.add_recipient(key, "Rio Labs GmbH", "DE", "self", "BR")
    inquiry_id = site.hold(key)
    site.answer(key, inquiry_id, {"security_attestation": {"valid_until": "2099-01-01"}})
    return inquiry_id


def test_pages_need_a_session(site: Site) -> None:
    client = httpx.Client(base_url=site.console)
    for path in ("/", "/decisions", "/dashboard", "/audit", "/decisions.csv", "/models"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin?next=")
    assert client.post("/audit/verify", data={"csrf": "x"}).status_code == 403


def test_session_cookie_flags_and_sign_out(site: Site) -> None:
    client = httpx.Client(base_url=site.console)
    form = client.get("/signin")
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert token is not None
    done = client.post(
        "/signin", data={"token": token.group(1), "name": OFFICER, "password": PASSWORD}
    )
    assert done.status_code == 303
    cookie = next(
        h for h in done.headers.get_list("set-cookie") if h.startswith("gate_console_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert "secure" not in flags  # plain HTTP on loopback
    session_token = client.cookies["gate_console_session"]
    assert client.get("/").status_code == 200
    # Only the token's hash is stored: the database holds no usable session.
    with site.gate.store.read() as conn:
        stored = conn.exec_driver_sql("SELECT token_sha256 FROM console_sessions").scalars().all()
    assert session_token not in stored and len(stored) == 1
    out = client.post("/signout", data={"csrf": csrf_of(client.get("/").text)})
    assert out.status_code == 303
    replay = httpx.Client(base_url=site.console, cookies={"gate_console_session": session_token})
    assert replay.get("/").status_code == 303  # the old cookie no longer works
    actions = [e.payload.get("action") for e in audit.iter_entries(site.gate.store, kind="admin")]
    assert "console.sign_in" in actions and "console.sign_out" in actions


def test_cookies_are_secure_behind_tls(tmp_path: Path) -> None:
    for site in start_site(tmp_path, f"sqlite:///{tmp_path / 'g.db'}", secure_cookies=True):
        page = httpx.get(f"{site.console}/signin")
        assert "secure" in page.headers["set-cookie"].lower()
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token is not None
        done = httpx.post(
            f"{site.console}/signin",
            data={"token": token.group(1), "name": OFFICER, "password": PASSWORD},
            cookies={"gate_console_signin": token.group(1)},
        )
        assert done.status_code == 303
        cookie = next(
            h for h in done.headers.get_list("set-cookie") if h.startswith("gate_console_session=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=strict"} <= flags


def test_sign_in_form_needs_its_own_token(site: Site) -> None:
    client = httpx.Client(base_url=site.console)
    client.get("/signin")
    refused = client.post(
        "/signin", data={"token": "forged", "name": OFFICER, "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert "gate_console_session" not in client.cookies


def test_sign_in_is_rate_limited(site: Site) -> None:
    client = httpx.Client(base_url=site.console)

    def attempt(password: str) -> httpx.Response:
        page = client.get("/signin")
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token is not None
        return client.post(
            "/signin", data={"token": token.group(1), "name": OFFICER, "password": password}
        )

    for _ in range(5):
        assert attempt("wrong password guess").status_code == 401
    blocked = attempt(PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "gate_console_session" not in client.cookies


def test_actions_need_the_csrf_token_and_the_same_origin(site: Site) -> None:
    inquiry_id = answered_inquiry(site)
    client = sign_in(site.console)
    form = review_form(client, inquiry_id)
    url = f"/inquiries/{inquiry_id}/review"
    assert client.post(url, data={**form, "csrf": ""}).status_code == 403
    assert client.post(url, data={**form, "csrf": form["csrf"][:-1] + "x"}).status_code == 403
    other = sign_in(site.console)  # another session's token is not this one's
    assert (
        client.post(url, data={**form, "csrf": review_form(other, inquiry_id)["csrf"]}).status_code
        == 403
    )
    cross = client.post(url, data=form, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert inquiries.get(site.gate.store, inquiry_id).status == "answered"
    ok = client.post(url, data=form, headers={"Origin": site.console})
    assert ok.status_code == 303
    assert inquiries.get(site.gate.store, inquiry_id).status == "completed"


def audit_seq(site: Site) -> int:
    return chain.state(site.gate.store).head_seq


def test_a_viewer_is_refused_every_action(site: Site) -> None:
    inquiry_id = answered_inquiry(site)
    viewer = sign_in(site.console, VIEWER)
    page = viewer.get(f"/inquiries/{inquiry_id}").text
    assert "Approve version" not in page and 'name="decision"' not in page
    csrf = csrf_of(page)  # the viewer's own, valid token (from the sign-out form)
    before = audit_seq(site)
    for path, data in (
        (
            f"/inquiries/{inquiry_id}/review",
            {"version": "1", "digest": "x", "decision": "approve", "note": "n"},
        ),
        ("/models/designate", {"repo": "acme/closed-small", "reason": "r"}),
        ("/models/classify", {"repo": "acme/closed-small", "reason": "r", "published": "yes"}),
        ("/audit/verify", {}),
    ):
        assert viewer.post(path, data={"csrf": csrf, **data}).status_code == 403, path
    assert inquiries.get(site.gate.store, inquiry_id).status == "answered"
    assert audit_seq(site) == before  # nothing was recorded: nothing was done


def test_approval_binds_to_the_version_shown(site: Site) -> None:
    inquiry_id = answered_inquiry(site)
    client = sign_in(site.console)
    form = review_form(client, inquiry_id)
    # The recipient changes its answer after the officer read the page.
    site.answer("rio", inquiry_id, {"security_attestation": {"valid_until": "2030-01-01"}})
    stale = client.post(f"/inquiries/{inquiry_id}/review", data=form)
    assert stale.status_code == 422
    assert "changed after you read them" in stale.text
    assert inquiries.get(site.gate.store, inquiry_id).status == "answered"
    fresh = review_form(client, inquiry_id)
    assert fresh["version"] == "2"
    assert "2030-01-01" in client.get(f"/inquiries/{inquiry_id}").text
    assert client.post(f"/inquiries/{inquiry_id}/review", data=fresh).status_code == 303
    approved = [
        e.payload
        for e in audit.iter_entries(site.gate.store, kind="inquiry")
        if e.payload.get("event") == "approved"
    ]
    assert approved[-1]["reviewer"] == OFFICER
    # What was applied is version 2, the one the officer read the second time.
    record = recipients.get(site.gate.store, site.world.recipient_ids["rio"])
    assert record.attestation_valid_until == date(2030, 1, 1)


def test_a_note_is_required(site: Site) -> None:
    inquiry_id = answered_inquiry(site)
    client = sign_in(site.console)
    form = review_form(client, inquiry_id)
    assert (
        client.post(f"/inquiries/{inquiry_id}/review", data={**form, "note": "  "}).status_code
        == 422
    )
    assert inquiries.get(site.gate.store, inquiry_id).status == "answered"


def test_officer_designates_and_classifies_with_a_reason(site: Site) -> None:
    client = sign_in(site.console)
    site.download("nordic", "n")  # classifies the frontier model on first sight
    page = client.get("/models/show", params={"repo": "acme/frontier-x"})
    assert page.status_code == 200 and "3.2e+26" in page.text
    csrf = csrf_of(page.text)
    done = client.post(
        "/models/designate",
        data={
            "csrf": csrf,
            "repo": "acme/closed-small",
            "reason": "is-informed letter 2026-04",
            "source": "BIS letter",
        },
    )
    assert done.status_code == 303
    bad = client.post(
        "/models/classify",
        data={"csrf": csrf, "repo": "acme/closed-small", "reason": "x", "compute_low": "nan"},
    )
    assert bad.status_code == 422
    entries = [
        e.payload
        for e in audit.iter_entries(site.gate.store, kind="admin")
        if e.payload.get("action") == "model.designate"
    ]
    assert entries[-1]["actor"] == OFFICER and entries[-1]["reason"] == "is-informed letter 2026-04"
    # The designation now controls the small model: the recipient in Shenzhen is refused it.
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError

    with pytest.raises(GatedRepoError, match="presumption_of_denial"):
        hf_hub_download(
            "acme/closed-small",
            "model.safetensors",
            endpoint=site.hub,
            token=site.token("shenzhen"),
            cache_dir=site.tmp / "s",
        )


def test_bad_input_is_a_4xx(site: Site) -> None:
    client = sign_in(site.console)
    csrf = csrf_of(client.get("/").text)
    assert client.get("/decisions", params={"from": "yesterday"}).status_code == 422
    assert client.get("/decisions", params={"verdict": "maybe"}).status_code == 422
    assert client.get("/dashboard", params={"days": "100000"}).status_code == 422
    assert client.get("/inquiries/inq_nope").status_code == 404
    assert client.get("/decisions/dec_nope").status_code == 404
    assert client.get("/models/show", params={"repo": "no/such"}).status_code == 404
    big = client.post("/audit/verify", data={"csrf": csrf, "pad": "x" * 70_000})
    assert big.status_code == 413
    odd = client.post(
        "/audit/verify",
        content=b"\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert odd.status_code in (400, 403)
    assert client.post("/audit/verify", json={"csrf": csrf}).status_code == 415


def test_next_never_leaves_the_console(site: Site) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\t/evil.example", "/\\evil"):
        client = httpx.Client(base_url=site.console)
        page = client.get("/signin", params={"next": target})
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token is not None
        done = client.post(
            "/signin",
            data={"token": token.group(1), "name": OFFICER, "password": PASSWORD, "next": target},
        )
        assert done.headers["location"] == "/", target


def test_csv_export_filters_and_defuses_formulas(site: Site) -> None:
    site.add_recipient("formula", '=HYPERLINK("http://evil")', "DE", "self", "DE")
    site.download("nordic", "n")
    client = sign_in(site.console)
    rows = list(csv.DictReader(io.StringIO(client.get("/recipients.csv").text)))
    names = {r["name"] for r in rows}
    assert '\'=HYPERLINK("http://evil")' in names
    nordic = site.world.recipient_ids["nordic"]
    exported = list(
        csv.DictReader(io.StringIO(client.get("/decisions.csv", params={"recipient": nordic}).text))
    )
    assert exported and {r["recipient"] for r in exported} == {nordic}
    assert {r["verdict"] for r in exported} == {"allow"}


def test_verify_now_records_the_result_with_the_officer(site: Site) -> None:
    client = sign_in(site.console)
    csrf = csrf_of(client.get("/audit").text)
    assert client.post("/audit/verify", data={"csrf": csrf}).status_code == 303
    for _ in range(600):
        status = client.get("/audit/verify.json").json()
        if not status["running"]:
            break
        time.sleep(0.05)
    assert status["result"]["ok"] is True
    page = client.get("/audit").text
    assert "intact" in page and OFFICER in page
    recent = page.split('id="actions-h"')[1]
    assert f"<td>{OFFICER}</td><td><code>console.audit_verify</code>" in recent
    assert client.get("/audit/checkpoint.json").status_code == 404  # none signed yet
    signed = client.post("/audit/checkpoint", data={"csrf": csrf})
    assert signed.status_code == 303
    checkpoint = client.get("/audit/checkpoint.json")
    assert checkpoint.status_code == 200
    body = checkpoint.json()
    assert body["signature"] and body["payload"]
    # The downloaded checkpoint verifies with the gate's published key.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from gate.crypto.keys import KeyRing

    key = KeyRing(site.world.settings.effective_key_dir).public_keys()[body["key_id"]]
    key.verify(
        bytes.fromhex(body["signature"]), body["payload"].encode(), ec.ECDSA(hashes.SHA256())
    )
    assert body["seq"] == chain.state(site.gate.store).head_seq
    actions = [e.payload for e in audit.iter_entries(site.gate.store, kind="admin")]
    assert actions[-1]["action"] == "console.audit_checkpoint" and actions[-1]["actor"] == OFFICER
    assert actions[-2]["action"] == "console.audit_verify" and actions[-2]["actor"] == OFFICER


def test_a_disabled_officer_is_signed_out(site: Site) -> None:
    client = sign_in(site.console)
    assert client.get("/").status_code == 200
    officers.disable(site.gate.store, OFFICER, actor="test", reason="left the company")
    assert client.get("/").status_code == 303


@pytest.fixture
def pg(pg_site: Site) -> Iterator[Site]:
    yield pg_site


@pytest.mark.postgres
def test_the_console_on_postgresql(pg: Site) -> None:
    inquiry_id = answered_inquiry(pg)
    client = sign_in(pg.console)
    assert (
        client.post(
            f"/inquiries/{inquiry_id}/review", data=review_form(client, inquiry_id)
        ).status_code
        == 303
    )
    assert inquiries.get(pg.gate.store, inquiry_id).status == "completed"
    assert client.get("/decisions").status_code == 200
    assert client.get("/dashboard").status_code == 200


def test_pages_show_what_the_chain_says_not_an_edited_lookup_column(site: Site) -> None:
    from huggingface_hub.errors import GatedRepoError

    from gate.console import decisions

    with pytest.raises(GatedRepoError):
        site.download("shenzhen", "s")
    with site.gate.store.write() as conn:  # an insider rewrites the lookup copies, not the bodies
        conn.exec_driver_sql("UPDATE audit_entries SET verdict = 'allow' WHERE verdict = 'deny'")
    shenzhen = site.world.recipient_ids["shenzhen"]
    shown = decisions.search(site.gate.store, decisions.DecisionFilter(recipient=shenzhen))
    assert shown and {r.verdict for r in shown} == {"deny"}
    allowed = decisions.search(site.gate.store, decisions.DecisionFilter(verdict="allow"))
    assert shenzhen not in {r.recipient_id for r in allowed}
    client = sign_in(site.console)
    page = client.get("/decisions", params={"recipient": shenzhen}).text
    assert 'class="verdict v-deny">deny' in page and "v-allow" not in page


def test_hostile_input_never_gets_a_5xx(site: Site) -> None:
    hostile(site)


@pytest.mark.postgres
def test_hostile_input_never_gets_a_5xx_on_postgresql(pg_site: Site) -> None:
    hostile(pg_site)


def hostile(site: Site) -> None:
    client = sign_in(site.console)
    csrf = csrf_of(client.get("/").text)
    odd = ["%ff", "%00", "a" * 5000, "..%2F..%2Fetc", "%ED%A0%80", "<script>", "' OR 1=1 --"]
    for value in odd:
        for path in (
            f"/inquiries/{value}",
            f"/decisions/{value}",
            f"/recipients/{value}",
            f"/screening/{value}",
            f"/models/show?repo={value}",
            f"/decisions?recipient={value}&model={value}&basis={value}&to={value}",
            f"/dashboard?days={value}",
            f"/signin?next={value}",
        ):
            response = client.get(path)
            assert response.status_code < 500, (path, response.status_code)
            assert "<script>" not in response.text.replace("&lt;script&gt;", "")
        for path in (
            "/models/classify",
            "/models/designate",
            "/inquiries/x/review",
            "/screening/1/review",
            "/signin",
        ):
            response = client.post(
                path,
                data={
                    "csrf": csrf,
                    "repo": value,
                    "reason": value,
                    "decision": value,
                    "version": value,
                    "compute_low": value,
                    "commit": value,
                },
            )
            assert response.status_code < 500, (path, value, response.status_code)


def test_decisions_page_through_older_ones(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.console import pages

    monkeypatch.setattr(pages, "PAGE", 5)
    nordic = site.world.recipient_ids["nordic"]
    for _ in range(12):
        response = httpx.head(
            f"{site.hub}/acme/frontier-x/resolve/main/model-00001-of-00002.safetensors",
            headers={"Authorization": f"Bearer {site.token('nordic')}"},
        )
        assert response.status_code == 200
    client = sign_in(site.console)
    seen: list[int] = []
    url: str | None = f"/decisions?recipient={nordic}"
    while url is not None:
        page = client.get(url).text
        seen += [
            int(s) for s in re.findall(r'<td><a href="/decisions/dec_[0-9a-f]+">(\d+)</a>', page)
        ]
        found = re.search(r'<a href="(/decisions\?[^"]+)" rel="next">', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 12 and seen == sorted(seen, reverse=True)


def test_inquiries_list_filters_by_status_and_exports(site: Site) -> None:
    inquiry_id = answered_inquiry(site)
    open_one = site.hold("lumen")
    client = sign_in(site.console)
    answered = client.get("/inquiries", params={"status": "answered"}).text
    assert inquiry_id in answered and open_one not in answered
    rows = list(csv.DictReader(io.StringIO(client.get("/inquiries.csv?status=open").text)))
    assert [r["inquiry"] for r in rows] == [open_one]
    assert client.get("/inquiries", params={"status": "lost"}).status_code == 422


def test_decisions_match_a_model_by_prefix(site: Site) -> None:
    site.download("nordic", "n")  # acme/frontier-x
    from huggingface_hub import hf_hub_download

    hf_hub_download(
        "open-lab/open-tiny",
        "model.safetensors",
        endpoint=site.hub,
        token=site.token("nordic"),
        cache_dir=site.tmp / "o",
    )
    client = sign_in(site.console)

    def models(pattern: str) -> set[str]:
        text = client.get("/decisions.csv", params={"model": pattern}).text
        return {r["model"] for r in csv.DictReader(io.StringIO(text))}

    assert models("acme/*") == {"acme/frontier-x"}
    assert models("open-lab/*") == {"open-lab/open-tiny"}
    assert models("*") == {"acme/frontier-x", "open-lab/open-tiny"}
    assert models("open_lab/*") == set()  # "_" is itself, not a LIKE wildcard
    assert models("acme/frontier-x") == {"acme/frontier-x"}


@pytest.mark.parametrize("trusted", [True, False])
def test_sign_in_limit_counts_the_real_client(tmp_path: Path, trusted: bool) -> None:
    """Behind a listed proxy the limit counts each forwarded client; without one, the
    forwarded header is anyone's to write and is ignored."""
    from gate.networks import parse_networks
    from gate.server.forwarded import ClientAddress

    networks = parse_networks("127.0.0.1/32") if trusted else ()

    def wrap(app: object) -> object:
        return ClientAddress(app, trusted=networks)  # type: ignore[arg-type]

    for site in start_site(tmp_path, f"sqlite:///{tmp_path / 'g.db'}", wrap=wrap):

        def attempt(client_ip: str, name: str, base: str = site.console) -> int:
            client = httpx.Client(base_url=base, headers={"X-Forwarded-For": client_ip})
            page = client.get("/signin")
            token = re.search(r'name="token" value="([^"]+)"', page.text)
            assert token is not None
            return client.post(
                "/signin", data={"token": token.group(1), "name": name, "password": "wrong!"}
            ).status_code

        for i in range(5):
            assert attempt("10.0.0.1", f"guess{i}") == 401
        # Another client behind the proxy, another name: limited only when both look alike.
        assert attempt("10.0.0.2", "guess9") == (401 if trusted else 429)
