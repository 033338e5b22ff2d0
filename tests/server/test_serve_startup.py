"""`gate serve` as a process: what it prints at start, and refusing a contradictory set."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gate.demo.scenario import DEMO_PASSPHRASE, DemoWorld, build_world
from gate.rules.loader import shipped_ruleset_paths
from tests.server.conftest import wait_until_ready

pytestmark = pytest.mark.slow

GATE = Path(sys.executable).with_name("gate")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(world: DemoWorld, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATE_")}
    env.update(
        GATE_DATA_DIR=str(world.workdir),
        GATE_KEY_PASSPHRASE=DEMO_PASSPHRASE,
        **extra,
    )
    return env


def test_serve_prints_its_rulesets_and_warns_that_screening_is_off(tmp_path: Path) -> None:
    world = build_world(tmp_path / "world")
    ai = shipped_ruleset_paths()[0]
    port = _free_port()
    process = subprocess.Popen(
        [str(GATE), "serve", "--store", str(world.store_dir), "--port", str(port)],
        env=_env(world, GATE_RULESETS=json.dumps([str(ai)])),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_ready(process, port)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    lines = err.splitlines()
    assert "deciding under 1 ruleset(s), the most restrictive wins:" in lines
    assert any(line.startswith("  1. ai-diffusion-2025 sha256:") for line in lines)
    assert not any("ear-embargoes" in line for line in lines)
    assert (
        "warning: screening is off: no restricted-party list imported (gate screening import)"
        in lines
    )


def test_serve_refuses_both_ruleset_variables(tmp_path: Path) -> None:
    world = build_world(tmp_path / "world")
    ai = shipped_ruleset_paths()[0]
    done = subprocess.run(
        [str(GATE), "serve", "--store", str(world.store_dir), "--port", str(_free_port())],
        env=_env(world, GATE_RULESET=str(ai), GATE_RULESETS=json.dumps([str(ai)])),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "GATE_RULESET and GATE_RULESETS" in done.stderr
