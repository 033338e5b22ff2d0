"""Activation by environment variables alone (a fresh interpreter), the offline guard, the token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from huggingface_hub import constants, get_session
from huggingface_hub.errors import OfflineModeIsEnabled
from starlette.types import Receive, Scope, Send
from weight_gate_hf import GateVerificationError, activate, install
from weight_gate_hf.__main__ import PTH_LINE, PTH_NAME, disable_autoload, main

from tests.plugins.conftest import ReceiptKeeper
from tests.plugins.startup import autoload_python, run
from tests.server.conftest import Repos, ServerThread

SHARD = "model-00001-of-00002.safetensors"

CHILD = """
import sys
from huggingface_hub import hf_hub_download
from weight_gate_hf import GateVerificationError
try:
    print("OK", hf_hub_download("lab/frontier", sys.argv[1]))
except GateVerificationError as exc:
    print("REFUSED", type(exc).__name__, exc)
print("PLUGIN", "weight_gate_hf.hook" in sys.modules)
"""


def run_child(python: Path, env: dict[str, str], path: str = SHARD) -> str:
    result = run(python, CHILD, env, path)
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


@pytest.mark.slow
def test_environment_alone_activates(
    env: dict[str, str], keeper: ReceiptKeeper, repos: Repos, tmp_path: Path
) -> None:
    python = autoload_python(tmp_path / "venv")
    pth = next((tmp_path / "venv").rglob(PTH_NAME))
    assert pth.read_text() == PTH_LINE
    out = run_child(python, env)
    assert "OK " in out and "PLUGIN True" in out
    assert list((tmp_path / "cache" / "gate-receipts").rglob("*.receipt.json"))
    keeper.receipts = False
    env["HF_HUB_CACHE"] = str(tmp_path / "cache2")
    out = run_child(python, env)
    assert "REFUSED" in out and "no gate receipt" in out
    # Without any GATE_PLUGIN_* variable the .pth line imports nothing and the plugin stays off.
    quiet = {k: v for k, v in env.items() if not k.startswith("GATE_PLUGIN_")}
    quiet["HF_ENDPOINT"] = env["GATE_PLUGIN_ENDPOINT"]
    quiet["HF_TOKEN"] = "tok-acme"
    quiet["HF_HUB_CACHE"] = str(tmp_path / "cache3")
    out = run_child(python, quiet)
    assert "OK " in out and "PLUGIN False" in out
    site_dir = pth.parent
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
