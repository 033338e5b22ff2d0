"""The records as the running gate uses them: license caps per transfer through the real
`huggingface_hub` client, snapshot bundles that follow the records, checkpoints at shutdown.
"""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError

from gate.crypto.keys import KeyRing
from gate.crypto.snapshot_bundle import SIDECAR_PATH
from gate.hub.local import LocalStore
from gate.rules.loader import load_default_ruleset
from gate.server.app import create_app
from gate.server.background import BackgroundServer
from gate.server.serve import app_for
from gate.service.build import build_service
from gate.settings import Settings
from gate.store import audit, credentials, licenses, models, recipients
from gate.store.chain import head_seq
from gate.store.db import open_store
from tests.server.conftest import ACCOUNTS, Repos, StoreKeeper, build_store, default_facts

FRONTIER = "lab/frontier"
SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
PASSPHRASE = "records-service-tests"


@pytest.fixture()
def repos(tmp_path: Path) -> Repos:
    return build_store(tmp_path / "store")


def _keeper(tmp_path: Path, *, signed: bool = False) -> StoreKeeper:
    signer = None
    if signed:
        ring = KeyRing(tmp_path / "keys")
        ring.init(PASSPHRASE)
        signer = ring.active_signer(PASSPHRASE)
    store = open_store(f"sqlite:///{tmp_path / 'records.db'}")
    made = StoreKeeper(store, load_default_ruleset(), signer=signer)
    made.seed(ACCOUNTS, default_facts())
    return made


def _licensed_recipient(keeper: StoreKeeper, cap: int) -> str:
    """A recipient headquartered in an `other` country: the frontier model needs a license."""
    recipients.add(
        keeper.store,
        "r-india",
        actor="t",
        name="Bharat AI",
        headquarters="IN",
        parent="self",
        destinations=["IN"],
    )
    licenses.add(
        keeper.store,
        "D-CAP-1",
        recipient_id="r-india",
        models=[FRONTIER],
        destinations=["IN"],
        valid_until=date.today() + timedelta(days=365),
        max_transfers=cap,
        actor="officer",
    )
    token, _ = credentials.create_token(keeper.store, "r-india", actor="t")
    return token


def test_a_capped_license_counts_transfers_not_heads_or_resumes(
    repos: Repos, tmp_path: Path
) -> None:
    keeper = _keeper(tmp_path / "records")
    token = _licensed_recipient(keeper, cap=1)
    try:
        with BackgroundServer(create_app(LocalStore(repos.root), keeper)) as server:
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{server.url}/{FRONTIER}/resolve/main"
            for _ in range(3):  # HEADs and header-window reads do not use the cap
                assert httpx.head(f"{url}/{SHARDS[0]}", headers=headers).status_code == 200
                window = httpx.get(f"{url}/{SHARDS[1]}", headers={**headers, "Range": "bytes=0-7"})
                assert window.status_code == 206
            assert licenses.get(keeper.store, "D-CAP-1").transfers == 0
            got = hf_hub_download(
                FRONTIER, SHARDS[0], endpoint=server.url, token=token, cache_dir=tmp_path / "c1"
            )
            assert Path(got).read_bytes() == repos.files[FRONTIER][SHARDS[0]]
            # The same file again (another machine, a resume): counted once.
            hf_hub_download(
                FRONTIER, SHARDS[0], endpoint=server.url, token=token, cache_dir=tmp_path / "c2"
            )
            assert licenses.get(keeper.store, "D-CAP-1").transfers == 1
            with pytest.raises(GatedRepoError, match="License D-CAP-1 is exhausted"):
                hf_hub_download(
                    FRONTIER,
                    SHARDS[1],
                    endpoint=server.url,
                    token=token,
                    cache_dir=tmp_path / "c3",
                )
        assert licenses.get(keeper.store, "D-CAP-1").transfers == 1
        assert audit.verify_chain(keeper.store).ok
    finally:
        keeper.store.close()


def _vouched(bundle: bytes) -> str:
    """The statement a bundle signs (it names every file it vouches for)."""
    payload = json.loads(bundle)["dsseEnvelope"]["payload"]
    return base64.b64decode(payload).decode()


def test_bundles_follow_the_records(repos: Repos, tmp_path: Path) -> None:
    keeper = _keeper(tmp_path / "records", signed=True)
    signer = keeper.signer
    assert signer is not None
    try:
        app = create_app(LocalStore(repos.root), keeper, signer=signer)
        with BackgroundServer(app) as server:
            url = f"{server.url}/open/small/resolve/main/{SIDECAR_PATH}"
            headers = {"Authorization": f"Bearer {keeper.tokens['tok-dragon']}"}
            before = httpx.get(url, headers=headers).content
            assert httpx.get(url, headers=headers).content == before  # stable while unchanged
            assert "model.safetensors" in _vouched(before)
            # The operator designates the model: the bundle no longer vouches for its weights.
            models.designate(keeper.store, "Open/Small", reason="is-informed letter", actor="o")
            after = httpx.get(url, headers=headers).content
            assert after != before
            assert "model.safetensors" not in _vouched(after)
            assert "config.json" in _vouched(after)
            assert httpx.head(url, headers=headers).headers["content-length"] == str(len(after))
    finally:
        keeper.store.close()


def test_the_server_signs_a_checkpoint_at_shutdown(repos: Repos, tmp_path: Path) -> None:
    KeyRing(tmp_path / "keys").init(PASSPHRASE)
    settings = Settings(
        data_dir=tmp_path,
        key_passphrase=PASSPHRASE,
        audit_checkpoint_every=1000,
        audit_checkpoint_minutes=60,
        audit_witness_dir=tmp_path / "witness",
    )
    service = build_service(settings, LocalStore(repos.root))
    token, _ = credentials.create_token(
        service.store,
        recipients.add(
            service.store, "r1", actor="t", name="One", headquarters="US", parent="self"
        ).id,
        actor="t",
    )
    with BackgroundServer(app_for(service, LocalStore(repos.root))) as server:
        response = httpx.get(
            f"{server.url}/open/small/resolve/main/config.json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        last = head_seq(service.store)
    # The lifespan's shutdown signed the head; nothing else did (cadence: 1000 entries / 60 min).
    store = open_store(settings.effective_database_url)
    try:
        result = audit.verify_chain(store, KeyRing(tmp_path / "keys").public_keys())
        assert result.ok
        with store.read() as conn:
            from sqlalchemy import text

            seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_checkpoints"))]
        assert seqs[-1] == last
        witness = (tmp_path / "witness" / "audit-checkpoints.jsonl").read_text().splitlines()
        assert len(witness) == len(seqs)
    finally:
        store.close()
        service.close()
