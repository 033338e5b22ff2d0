"""Activation by environment variables alone (a fresh interpreter), the offline guard, the token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from huggingface_hub import constants, get_session
from huggingface_hub.errors import OfflineModeIsEnabled
from starlette.types import Receive, Scope, Send

from plugins.hf_gate import GateVerificationError, activate, install
from plugins.hf_gate.__main__ import PTH_LINE, disable_autoload, enable_autoload, main
from tests.plugins.conftest import ReceiptKeeper
from tests.server.conftest import Repos, ServerThread

ROOT = Path(__file__).resolve().parents[2]
SHARD = "model-00001-of-00002.safetensors"

CHILD = """
import site, sys
site.addsitedir(sys.argv[1])  # processes .pth files exactly as at start-up
from huggingface_hub import hf_hub_download
from plugins.hf_gate import GateVerificationError
try:
    print("OK", hf_hub_download("lab/frontier", sys.argv[2]))
except GateVerificationError as exc:
    print("REFUSED", exc)
print("PLUGIN", "plugins.hf_gate.hook" in sys.modules)
"""


def run_child(site_dir: Path, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GATE_PLUGIN_", "HF_"))}
    base["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(site_dir), SHARD],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture()
def env(gate: ServerThread, keeper: ReceiptKeeper, tmp_path: Path) -> dict[str, str]:
    assert keeper.signer is not None
    pem = tmp_path / "gate.pem"
    pem.write_bytes(
        keeper.signer.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return {
        "GATE_PLUGIN_ENDPOINT": gate.url,
        "GATE_PLUGIN_TOKEN": "tok-acme",
        "GATE_PLUGIN_TRUSTED_KEYS": str(pem),
        "HF_HUB_CACHE": str(tmp_path / "cache"),
    }


def test_environment_alone_activates(
    env: dict[str, str], keeper: ReceiptKeeper, repos: Repos, tmp_path: Path
) -> None:
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    pth = enable_autoload(site_dir)
    assert pth.read_text() == PTH_LINE
    out = run_child(site_dir, env)
    assert "OK " in out and "PLUGIN True" in out
    assert list((tmp_path / "cache" / "gate-receipts").rglob("*.receipt.json"))
    keeper.receipts = False
    env["HF_HUB_CACHE"] = str(tmp_path / "cache2")
    out = run_child(site_dir, env)
    assert "REFUSED" in out and "no gate receipt" in out
    # Without GATE_PLUGIN_ENDPOINT the .pth line imports nothing and the plugin stays off.
    quiet = {k: v for k, v in env.items() if k != "GATE_PLUGIN_ENDPOINT"}
    quiet["HF_ENDPOINT"] = env["GATE_PLUGIN_ENDPOINT"]
    quiet["HF_TOKEN"] = "tok-acme"
    quiet["HF_HUB_CACHE"] = str(tmp_path / "cache3")
    out = run_child(site_dir, quiet)
    assert "OK " in out and "PLUGIN False" in out
    disable_autoload(site_dir)
    assert not pth.exists()
    assert main(["status", "--dir", str(site_dir)]) == 0


def test_activate_reads_the_variables(env: dict[str, str], tmp_path: Path) -> None:
    assert activate({}) is None
    config = activate(
        {**env, "GATE_PLUGIN_RECIPIENT_ID": "r-pinned", "GATE_PLUGIN_REQUIRE_RECEIPTS": "0"}
    )
    assert config is not None
    assert config.recipient_id() == "r-pinned" and config.require_receipts is False
    with pytest.raises(GateVerificationError, match="GATE_PLUGIN_TRUSTED_KEYS"):
        activate({"GATE_PLUGIN_ENDPOINT": env["GATE_PLUGIN_ENDPOINT"]})
    with pytest.raises(GateVerificationError, match="cannot read"):
        activate({**env, "GATE_PLUGIN_TRUSTED_KEYS": str(tmp_path / "missing.pem")})
    with pytest.raises(GateVerificationError, match="trusted_keys is required"):
        install(env["GATE_PLUGIN_ENDPOINT"])


def test_offline_guard_is_kept(gate: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    install(gate.url, token="tok-acme", trusted_keys="endpoint")
    assert get_session().get(gate.url + "/healthz").status_code == 200
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OfflineModeIsEnabled):
        get_session().get(gate.url + "/healthz")


def test_token_goes_to_the_gate_only(gate: ServerThread) -> None:
    seen: list[Any] = []

    async def recorder(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        seen.append(dict(scope["headers"]).get(b"authorization"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    install(gate.url, token="tok-acme", trusted_keys="endpoint")
    with ServerThread(recorder) as other:
        get_session().get(other.url + "/anything")
    assert seen == [None]
    assert get_session().get(gate.url + "/api/whoami-v2").json()["id"] == "r-acme"
