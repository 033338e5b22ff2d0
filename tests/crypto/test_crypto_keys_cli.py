"""`gate keys ...` through the real CLI entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.cli.main import run
from gate.crypto.dsse import key_id
from gate.crypto.keys import public_keys_from_jwks


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GATE_KEY_PASSPHRASE", "s3cret")
    return tmp_path / "keys"


def _json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)


def test_init_rotate_list_export(key_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["keys", "init", "--key-dir", str(key_dir), "--json"]) == 0
    first = _json(capsys)["kid"]
    assert run(["keys", "rotate", "--key-dir", str(key_dir), "--json"]) == 0
    rotated = _json(capsys)
    assert rotated["retired"] == first
    assert run(["keys", "list", "--key-dir", str(key_dir), "--json"]) == 0
    listed = _json(capsys)["keys"]
    assert [(k["kid"], k["status"]) for k in listed] == [
        (rotated["kid"], "active"),
        (first, "retired"),
    ]

    assert run(["keys", "export-public", "--key-dir", str(key_dir)]) == 0
    pem = capsys.readouterr().out
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert key_id(public) == rotated["kid"]

    assert run(["keys", "export-public", "--key-dir", str(key_dir), "--kid", first, "--json"]) == 0
    assert _json(capsys)["kid"] == first

    assert run(["keys", "export-public", "--key-dir", str(key_dir), "--jwks"]) == 0
    assert set(public_keys_from_jwks(_json(capsys))) == {first, rotated["kid"]}

    assert run(["keys", "list", "--key-dir", str(key_dir)]) == 0
    human = capsys.readouterr().out
    assert rotated["kid"] in human and first in human and "retired" in human


def test_errors_are_messages_with_exit_codes(
    key_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["keys", "list", "--key-dir", str(key_dir)]) == 3
    assert "gate keys init" in capsys.readouterr().err
    assert run(["keys", "init", "--key-dir", str(key_dir)]) == 0
    assert run(["keys", "init", "--key-dir", str(key_dir)]) == 2
    assert "already holds a key ring" in capsys.readouterr().err
    assert run(["keys", "export-public", "--key-dir", str(key_dir), "--kid", "nope"]) == 3
    monkeypatch.setenv("GATE_KEY_PASSPHRASE", "wrong")
    assert run(["keys", "rotate", "--key-dir", str(key_dir)]) == 2
    err = capsys.readouterr().err
    assert "error: cannot decrypt signing key" in err and "Traceback" not in err


def test_key_dir_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATE_KEY_PASSPHRASE", "s3cret")
    monkeypatch.setenv("GATE_DATA_DIR", str(tmp_path / "data"))
    assert run(["keys", "init", "--json"]) == 0
    assert _json(capsys)["key_dir"] == str(tmp_path / "data" / "keys")


@pytest.mark.slow
def test_no_passphrase_and_no_terminal_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GATE_KEY_PASSPHRASE"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from gate.cli.main import main; main()",
            "keys",
            "init",
            "--key-dir",
            str(tmp_path / "k"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "GATE_KEY_PASSPHRASE" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "k").exists()
