"""`gate serve --workers 2`: two processes deciding over one record, serving one snapshot bundle."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import snapshot_download

from gate.crypto.keys import KeyRing
from gate.crypto.snapshot_bundle import SIDECAR_PATH
from gate.demo.scenario import DEMO_PASSPHRASE, DemoWorld, build_world, seed_records
from gate.server.serve import build_gate
from gate.store import audit
from gate.store.verify import verify_chain
from gate.wiring import open_records
from tests.server.conftest import model_signing_verify

pytestmark = pytest.mark.slow

FRONTIER = "acme/frontier-x"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[DemoWorld, str]]:
    world = build_world(tmp_path / "world")
    gate = build_gate(world.settings)
    seed_records(world, gate.store)
    gate.close()
    port = _free_port()
    env = {
        **os.environ,
        "GATE_DATA_DIR": str(world.workdir),
        "GATE_KEY_PASSPHRASE": DEMO_PASSPHRASE,
        "GATE_TRUSTED_DECLARER_KEYS": json.dumps(
            [str(p) for p in world.settings.trusted_declarer_keys]
        ),
    }
    env.pop("GATE_DATABASE_URL", None)
    gate_cmd = Path(sys.executable).with_name("gate")
    process = subprocess.Popen(
        [
            str(gate_cmd),
            "serve",
            "--store",
            str(world.store_dir),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"gate serve --workers 2 did not start: {process.stderr}")
            time.sleep(0.2)
        yield world, url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_two_workers_serve_one_bundle_and_one_chain(
    served: tuple[DemoWorld, str], tmp_path: Path
) -> None:
    world, url = served
    public_pem = tmp_path / "gate.pub.pem"
    public_pem.write_text(KeyRing(world.settings.effective_key_dir).export_public_pem())
    bundles = set()
    # New connections land on either worker; every snapshot must verify, with one bundle.
    for attempt in range(4):
        folder = Path(
            snapshot_download(
                FRONTIER,
                endpoint=url,
                token=world.tokens["nordic"],
                cache_dir=tmp_path / f"c{attempt}",
            )
        )
        bundles.add((folder / SIDECAR_PATH).read_bytes())
        check = model_signing_verify(folder, public_pem)
        assert check.returncode == 0, check.stdout + check.stderr
    # Fresh connections spread over both workers; each answers the one bundle on record.
    for key in ("nordic", "example"):
        seen = set()
        for _ in range(12):
            with httpx.Client() as client:
                response = client.get(
                    f"{url}/{FRONTIER}/resolve/main/{SIDECAR_PATH}",
                    headers={"Authorization": f"Bearer {world.tokens[key]}"},
                )
            assert response.status_code == 200
            seen.add(response.content)
        assert len(seen) == 1
    assert len(bundles) == 1
    store = open_records(world.settings, None)
    try:
        assert verify_chain(store).ok
        kept = [e for e in audit.iter_entries(store, kind="snapshot")]
        assert sorted(e.payload["recipient_id"] for e in kept) == sorted(
            world.recipient_ids[k] for k in ("nordic", "example")
        )
    finally:
        store.close()
