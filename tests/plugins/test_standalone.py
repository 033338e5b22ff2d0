"""The plugin installs and works alone: a fresh virtual environment without the gate.

pip installs `plugins/hf_gate` (not editable) and its dependencies from the configured index
into an empty venv; the child process downloads through the real gate (running in this test
process) and must not be able to import `gate` at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.plugins.conftest import ReceiptKeeper
from tests.server.conftest import ServerThread

pytestmark = pytest.mark.slow

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / "hf_gate"

CHILD = """
import importlib.util, sys
from huggingface_hub import hf_hub_download
import weight_gate_hf
from weight_gate_hf import GateVerificationError, install, verify_cache
print("GATE importable", importlib.util.find_spec("gate") is not None)
install(sys.argv[1], token="tok-acme", trusted_keys=[sys.argv[2]])
try:
    path = hf_hub_download("lab/frontier", "model-00001-of-00002.safetensors")
    print("DOWNLOADED", path)
    print("VERIFIED", verify_cache("lab/frontier").verified)
except GateVerificationError as exc:
    print("REFUSED", exc)
print("GATE loaded", any(m == "gate" or m.startswith("gate.") for m in sys.modules))
"""


def _env(extra: dict[str, str]) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GATE_", "HF_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {**base, **extra}


def test_plugin_alone_in_a_fresh_venv(
    gate: ServerThread, keeper: ReceiptKeeper, tmp_path: Path
) -> None:
    venv_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True, timeout=120)
    python = venv_dir / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(PLUGIN_DIR)],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env({}),
        cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stderr
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        env=_env({}),
    ).stdout.lower()
    assert "weight-gate-hf==" in listed and "weight-gate==" not in listed
    assert "fastapi" not in listed and "sqlalchemy" not in listed

    assert keeper.signer is not None
    pem = tmp_path / "gate.pem"
    pem.write_bytes(
        keeper.signer.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    def child(cache: str) -> str:
        result = subprocess.run(
            [str(python), "-c", CHILD, gate.url, str(pem)],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env({"HF_ENDPOINT": gate.url, "HF_HUB_CACHE": str(tmp_path / cache)}),
            cwd=tmp_path,  # not the repository root, whose `gate` folder python -c would see
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    out = child("cache")
    assert "GATE importable False" in out
    assert "DOWNLOADED" in out and "VERIFIED ('model-00001-of-00002.safetensors'" in out
    assert "GATE loaded False" in out
    keeper.receipts = False  # the gate stops signing: the plugin alone must refuse the file
    out = child("cache2")
    assert "REFUSED" in out and "no gate receipt" in out and "DOWNLOADED" not in out
