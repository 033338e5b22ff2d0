"""The gate as `gate serve` runs it: records store, classification on first sight, receipts.

The demo's world (tiny real models with cards and signed declarations, recipients across the
country groups) behind `build_gate`, on SQLite and on PostgreSQL, with the real client.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from huggingface_hub import hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError

from gate.crypto.keys import KeyRing, public_keys_from_jwks
from gate.crypto.receipts import decode_receipt_header, verify_receipt
from gate.crypto.snapshot_bundle import SIDECAR_PATH
from gate.demo.run import download_all
from gate.demo.scenario import RECIPIENTS, DemoWorld, build_world, seed_records
from gate.server.background import BackgroundServer
from gate.server.serve import Gate, build_gate
from gate.store import audit, inquiries, licenses, models
from gate.store.verify import verify_chain
from tests.server.conftest import model_signing_verify

FRONTIER = "acme/frontier-x"
SHARD = "model-00001-of-00002.safetensors"

# What the demo is designed to show: (recipient, model) -> (verdict, basis).
EXPECTED = {
    ("nordic", "open-lab/open-tiny"): ("allow", "published"),
    ("nordic", "acme/closed-small"): ("allow", "below_threshold"),
    ("nordic", FRONTIER): ("allow", "license_exception_aia"),
    ("nordic", "acme/legacy-npz"): ("hold", "compute_undetermined"),
    ("example", FRONTIER): ("allow", "license_exception_aia_weights"),
    ("lumen", FRONTIER): ("hold", "duty_to_inquire"),
    ("jakarta", FRONTIER): ("license_required", "license_required"),
    ("shenzhen", FRONTIER): ("deny", "presumption_of_denial"),
    ("shenzhen", "acme/closed-small"): ("allow", "below_threshold"),
    # Beyond 4E091 (the ear-embargoes ruleset of the shipped set, restricted-party screening).
    ("tehran", "open-lab/open-tiny"): ("allow", "published"),
    ("tehran", "acme/closed-small"): ("deny", "comprehensive_embargo"),
    ("tehran", FRONTIER): ("deny", "presumption_of_denial"),
    ("orion", "acme/closed-small"): ("deny", "restricted_party"),
    ("orion", FRONTIER): ("deny", "restricted_party"),
    ("hudson", FRONTIER): ("allow", "domestic_transfer"),
}


class Running:
    def __init__(self, world: DemoWorld, gate: Gate, url: str) -> None:
        self.world, self.gate, self.url = world, gate, url

    def headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.tokens[key]}"}

    def files(self, repo_id: str) -> dict[str, bytes]:
        return next(m.files for m in self.world.models if m.repo_id == repo_id)


def start(tmp_path: Path, database_url: str, **settings: object) -> Iterator[Running]:
    world = build_world(tmp_path / "world", database_url)
    if settings:
        world.settings = world.settings.model_copy(update=settings)
    gate = build_gate(world.settings)
    seed_records(world, gate.store)
    try:
        with BackgroundServer(gate.app) as server:
            yield Running(world, gate, server.url)
    finally:
        gate.close()


@pytest.fixture
def running(tmp_path: Path, database_url: str) -> Iterator[Running]:
    yield from start(tmp_path, database_url)


@pytest.mark.slow
def test_the_demo_table_comes_out_as_designed(running: Running, tmp_path: Path) -> None:
    rows = download_all(running.world, running.gate, running.url, tmp_path / "dl")
    names = {r.name: r.key for r in RECIPIENTS}
    seen = {(names[row.recipient], row.repo_id): row for row in rows}
    for key, (verdict, basis) in EXPECTED.items():
        assert (seen[key].verdict, seen[key].basis) == (verdict, basis), key
    # Allowed snapshots arrive byte-identical; refused ones carry no parameter file at all.
    for (who, repo_id), row in seen.items():
        folder = tmp_path / "dl" / who / repo_id.replace("/", "--")
        for path, data in running.files(repo_id).items():
            got = folder / path
            if row.verdict == "allow":
                assert got.read_bytes() == data, (who, repo_id, path)
            elif running.gate.gatekeeper.is_parameters(path):
                assert not got.exists(), (who, repo_id, path)
    assert verify_chain(running.gate.store).ok


def test_classified_once_per_commit_and_kept(running: Running) -> None:
    for _ in range(2):
        response = httpx.head(
            f"{running.url}/{FRONTIER}/resolve/main/{SHARD}", headers=running.headers("nordic")
        )
        assert response.status_code == 200
    commit = response.headers["X-Repo-Commit"]
    facts = models.get_classification(running.gate.store, FRONTIER, commit)
    assert facts is not None and facts.published is False
    assert facts.training_compute.low == pytest.approx(3.2e26)
    assert facts.declaration_id is not None


def test_receipts_verify_with_the_published_keys(running: Running) -> None:
    url = f"{running.url}/{FRONTIER}/resolve/main/{SHARD}"
    response = httpx.get(url, headers=running.headers("example"))
    assert response.status_code == 200
    assert response.content == running.files(FRONTIER)[SHARD]
    keys = public_keys_from_jwks(httpx.get(f"{running.url}/.well-known/gate-keys.json").json())
    envelope = decode_receipt_header(response.headers["X-Gate-Receipt"])
    claims = verify_receipt(
        envelope,
        keys,
        repo_id=FRONTIER,
        commit=response.headers["X-Repo-Commit"],
        path=SHARD,
        sha256=response.headers["ETag"].strip('"'),
        size=len(response.content),
        recipient_id=running.world.recipient_ids["example"],
        now=datetime.now(UTC),
    )
    assert (claims.verdict, claims.basis, claims.destination) == (
        "allow",
        "license_exception_aia_weights",
        "BR",
    )
    decision_id = response.headers["X-Request-Id"]
    assert claims.decision_id == decision_id
    mine = httpx.get(
        f"{running.url}/api/gate/receipts/{decision_id}", headers=running.headers("example")
    )
    assert mine.status_code == 200 and mine.json() == envelope
    theirs = httpx.get(
        f"{running.url}/api/gate/receipts/{decision_id}", headers=running.headers("nordic")
    )
    assert theirs.status_code == 404
    # Refused and non-parameter files carry no receipt.
    refused = httpx.head(url, headers=running.headers("shenzhen"))
    config = httpx.get(
        f"{running.url}/{FRONTIER}/resolve/main/config.json", headers=running.headers("example")
    )
    assert "X-Gate-Receipt" not in refused.headers and "X-Gate-Receipt" not in config.headers


def test_duty_to_inquire_from_hold_to_license(running: Running, tmp_path: Path) -> None:
    store = running.gate.store
    lumen = running.world.recipient_ids["lumen"]

    def download() -> Path:
        return Path(
            hf_hub_download(
                FRONTIER,
                SHARD,
                endpoint=running.url,
                token=running.world.tokens["lumen"],
                cache_dir=tmp_path / "c",
            )
        )

    with pytest.raises(GatedRepoError) as caught:
        download()
    message = str(caught.value)
    assert "hold (duty_to_inquire)" in message
    inquiry_id = re.search(r"inquiry (inq_[0-9a-f]+) is open", message).group(1)  # type: ignore[union-attr]
    answers = {
        "export_destinations": ["US", "India"],
        "end_use": "fine-tuning for customer support",
        "license_obligation_acknowledged": True,
    }
    answered = httpx.post(
        f"{running.url}/api/gate/inquiries/{inquiry_id}/answers",
        json=answers,
        headers=running.headers("lumen"),
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    other = httpx.post(
        f"{running.url}/api/gate/inquiries/{inquiry_id}/answers",
        json=answers,
        headers=running.headers("nordic"),
    )
    assert other.status_code == 404
    inquiries.review(store, inquiry_id, approve=True, reviewer="officer", note="checked")
    # Completed: the declared destinations count now, and India needs a license.
    with pytest.raises(
        GatedRepoError, match=r"license_required \(license_required\)|license_required"
    ):
        download()
    licenses.add(
        store,
        "D-2026-001",
        recipient_id=lumen,
        models=[FRONTIER],
        destinations=["US", "IN"],
        valid_until=date.today() + timedelta(days=30),
        actor="officer",
    )
    assert download().read_bytes() == running.files(FRONTIER)[SHARD]
    kinds = [e.kind for e in audit.iter_entries(store)]
    assert "inquiry" in kinds and verify_chain(store).ok


def test_unregistered_destination_holds(running: Running) -> None:
    headers = {**running.headers("example"), "X-Gate-Destination": "FR"}
    response = httpx.get(f"{running.url}/{FRONTIER}/resolve/main/{SHARD}", headers=headers)
    assert response.status_code == 403
    assert response.json()["basis"] == "parties_unknown"
    assert "not a registered destination" in response.headers["X-Error-Message"]


def test_shadow_mode_passes_and_records_what_it_would_block(
    tmp_path: Path, database_url: str
) -> None:
    for running in start(tmp_path, database_url, mode="shadow"):
        response = httpx.get(
            f"{running.url}/{FRONTIER}/resolve/main/{SHARD}", headers=running.headers("shenzhen")
        )
        assert response.status_code == 200
        assert response.content == running.files(FRONTIER)[SHARD]
        assert "shadow mode, not enforced" in response.headers["X-HF-Warning"]
        assert "X-Gate-Receipt" not in response.headers  # the gate does not vouch for it
        entry = audit.get_entry(running.gate.store, response.headers["X-Request-Id"])
        assert entry.payload["would_have_blocked"] is True and entry.payload["enforced"] is False


@pytest.mark.postgres
@pytest.mark.slow
def test_records_gone_means_no_bytes(tmp_path: Path, pg_schema_url: str) -> None:
    from sqlalchemy import create_engine, text

    for running in start(tmp_path, pg_schema_url):
        url = f"{running.url}/{FRONTIER}/resolve/main/{SHARD}"
        assert httpx.head(url, headers=running.headers("nordic")).status_code == 200
        schema = pg_schema_url.rsplit("%3D", 1)[1]
        admin = create_engine(pg_schema_url.split("?")[0])
        with admin.begin() as conn:  # the audit table disappears under the running gate
            conn.execute(text(f"DROP TABLE {schema}.audit_entries CASCADE"))
        admin.dispose()
        response = httpx.get(url, headers=running.headers("nordic"))
        assert response.status_code == 503
        assert response.content.find(running.files(FRONTIER)[SHARD][-64:]) == -1
        assert b"records store unavailable" in response.content


def test_receipt_header_is_base64url_json(running: Running) -> None:
    response = httpx.head(
        f"{running.url}/{FRONTIER}/resolve/main/{SHARD}", headers=running.headers("nordic")
    )
    raw = response.headers["X-Gate-Receipt"]
    decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    assert decoded["payloadType"] == "application/vnd.in-toto+json"


@pytest.mark.slow
def test_snapshot_verifies_with_the_stock_model_signing_tool(
    running: Running, tmp_path: Path
) -> None:
    folder = Path(
        snapshot_download(
            FRONTIER,
            endpoint=running.url,
            token=running.world.tokens["nordic"],
            cache_dir=tmp_path / "c",
        )
    )
    assert (folder / SIDECAR_PATH).is_file()
    public_pem = tmp_path / "gate.pub.pem"
    public_pem.write_text(KeyRing(running.world.settings.effective_key_dir).export_public_pem())
    ok = model_signing_verify(folder, public_pem)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # The bundle names the recipient and the decisions that allowed each file.
    bundle = json.loads((folder / SIDECAR_PATH).read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    vouched = statement["predicate"]["weight_gate"]
    assert vouched["recipient_id"] == running.world.recipient_ids["nordic"]
    assert set(vouched["decision_ids"]) == set(running.files(FRONTIER))
    # One byte changed in a downloaded weight: the stock tool refuses the folder.
    blob = (folder / SHARD).resolve()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0x01
    blob.write_bytes(bytes(data))
    bad = model_signing_verify(folder, public_pem)
    assert bad.returncode != 0 and "Hash mismatch" in bad.stdout + bad.stderr


def test_each_recipient_gets_its_own_bundle(running: Running) -> None:
    def sidecar(key: str) -> httpx.Response:
        return httpx.get(
            f"{running.url}/{FRONTIER}/resolve/main/{SIDECAR_PATH}", headers=running.headers(key)
        )

    nordic, example, shenzhen = sidecar("nordic"), sidecar("example"), sidecar("shenzhen")
    assert nordic.content == sidecar("nordic").content  # stable between HEAD/GET and repeats
    assert nordic.content != example.content
    head = httpx.head(
        f"{running.url}/{FRONTIER}/resolve/main/{SIDECAR_PATH}", headers=running.headers("nordic")
    )
    assert int(head.headers["Content-Length"]) == len(nordic.content)
    # Refused weights are not vouched for: only the files Shenzhen may have are listed.
    statement = json.loads(base64.b64decode(shenzhen.json()["dsseEnvelope"]["payload"]))
    names = {r["name"] for r in statement["predicate"]["resources"]}
    assert SHARD not in names and "config.json" in names
    tree = httpx.get(
        f"{running.url}/api/models/{FRONTIER}/tree/main?recursive=true",
        headers=running.headers("nordic"),
    ).json()
    listed = {e["path"]: e for e in tree}
    assert listed[SIDECAR_PATH]["size"] == len(nordic.content)


def test_a_gate_in_front_of_another_gate_classifies_through_it(
    running: Running, tmp_path: Path
) -> None:
    """Upstream mode with the records: the front gate reads metadata and headers through the
    back gate (as the operator's own recipient there) and decides for its own recipients."""
    from pydantic import SecretStr

    front_dir = tmp_path / "front"
    for front in start(
        front_dir,
        f"sqlite:///{front_dir / 'front.db'}",
        store=None,
        upstream=running.url,
        upstream_token=SecretStr(running.world.tokens["nordic"]),
    ):
        got = Path(
            hf_hub_download(
                FRONTIER,
                SHARD,
                endpoint=front.url,
                token=front.world.tokens["example"],
                cache_dir=tmp_path / "c",
            )
        )
        assert got.read_bytes() == running.files(FRONTIER)[SHARD]
        with pytest.raises(GatedRepoError, match="presumption_of_denial"):
            hf_hub_download(
                FRONTIER,
                SHARD,
                endpoint=front.url,
                token=front.world.tokens["shenzhen"],
                cache_dir=tmp_path / "d",
            )
        commit = got.parent.name
        facts = models.get_classification(front.gate.store, FRONTIER, commit)
        # The front gate does not trust the back world's declarer key: the declaration is an
        # unsigned claim, which may raise compute (3.2e26 here) but never clear a model.
        assert facts is not None and facts.training_compute.low is not None
        assert verify_chain(front.gate.store).ok
