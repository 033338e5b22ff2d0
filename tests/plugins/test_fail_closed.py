"""Autoload fails closed: wrong or missing settings block every download, at a real start-up.

Python's `site` prints an exception raised from a `.pth` line and carries on, so these tests start
a real interpreter (see `startup.py`) rather than calling the activation function: what matters
is what the interpreter does afterwards with the stock `huggingface_hub` calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.plugins.conftest import ReceiptKeeper
from tests.plugins.startup import autoload_python, run
from tests.server.conftest import ServerThread

pytestmark = pytest.mark.slow

CHILD = """
import sys
from huggingface_hub import HfApi, hf_hub_download
from weight_gate_hf import GateSettingsError
for call in (
    lambda: hf_hub_download("lab/frontier", "model-00001-of-00002.safetensors"),
    lambda: hf_hub_download("lab/frontier", "config.json"),
    lambda: HfApi().model_info("lab/frontier"),
):
    try:
        print("OK", call())
    except GateSettingsError as exc:
        print("BLOCKED", exc)
"""


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return autoload_python(tmp_path_factory.mktemp("autoload") / "venv")


@pytest.fixture()
def pem(keeper: ReceiptKeeper, tmp_path: Path) -> Path:
    assert keeper.signer is not None
    path = tmp_path / "gate.pem"
    path.write_bytes(
        keeper.signer.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def blocked(python: Path, env: dict[str, str], setting: str) -> None:
    """Every call is blocked with the setting's name, and start-up said why on stderr."""
    result = run(python, CHILD, env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    assert all(line.startswith("BLOCKED") and setting in line for line in lines), result.stdout
    assert setting in result.stderr and "blocked" in result.stderr


def test_good_settings_download(
    python: Path, gate: ServerThread, pem: Path, tmp_path: Path
) -> None:
    # The control: with correct settings the same calls go through (so "blocked" below is the
    # settings' doing, not the harness's).
    env = {
        "GATE_PLUGIN_ENDPOINT": gate.url,
        "GATE_PLUGIN_TOKEN": "tok-acme",
        "GATE_PLUGIN_TRUSTED_KEYS": str(pem),
        "HF_HUB_CACHE": str(tmp_path / "cache"),
    }
    result = run(python, CHILD, env)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["OK", "OK", "OK"]


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"GATE_PLUGIN_TRUSTED_KEYS": None}, "GATE_PLUGIN_TRUSTED_KEYS"),
        ({"GATE_PLUGIN_TRUSTED_KEYS": "{tmp}/missing.pem"}, "GATE_PLUGIN_TRUSTED_KEYS"),
        ({"GATE_PLUGIN_TRUSTED_KEYS": "{tmp}/not-a-key.pem"}, "GATE_PLUGIN_TRUSTED_KEYS"),
        ({"GATE_PLUGIN_TRUSTED_KEYS": "{tmp}/empty-folder"}, "GATE_PLUGIN_TRUSTED_KEYS"),
        ({"GATE_PLUGIN_ENDPOINT": "gate:8000"}, "GATE_PLUGIN_ENDPOINT"),
        ({"GATE_PLUGIN_ENDPOINT": "http://[::1"}, "GATE_PLUGIN_ENDPOINT"),
        ({"GATE_PLUGIN_ENDPOINT": None}, "GATE_PLUGIN_ENDPOINT"),
        ({"GATE_PLUGIN_REQUIRE_RECEIPTS": "maybe"}, "GATE_PLUGIN_REQUIRE_RECEIPTS"),
        ({"GATE_PLUGIN_TRUSTED_KEY": "{tmp}/gate.pem"}, "GATE_PLUGIN_TRUSTED_KEY "),
        ({"GATE_PLUGIN_NON_PARAMETER_FILES": "a/*.json"}, "GATE_PLUGIN_NON_PARAMETER_FILES"),
    ],
)
def test_bad_settings_block_every_download(
    python: Path,
    gate: ServerThread,
    pem: Path,
    tmp_path: Path,
    change: dict[str, str | None],
    setting: str,
) -> None:
    (tmp_path / "not-a-key.pem").write_text("hello\n")
    (tmp_path / "empty-folder").mkdir()
    env: dict[str, str] = {
        "GATE_PLUGIN_ENDPOINT": gate.url,
        "GATE_PLUGIN_TOKEN": "tok-acme",
        "GATE_PLUGIN_TRUSTED_KEYS": str(pem),
        "HF_ENDPOINT": gate.url,
        "HF_HUB_CACHE": str(tmp_path / "cache"),
    }
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value.format(tmp=tmp_path)
    blocked(python, env, setting.strip())
    assert not list((tmp_path / "cache").rglob("*.safetensors"))
