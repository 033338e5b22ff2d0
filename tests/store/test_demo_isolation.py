"""`gate demo` never writes into an operator's records and leaves nothing behind (issue 11,
item 10): a real `gate demo --keep-running` process, stopped with Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

GATE = str(Path(sys.executable).with_name("gate"))


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_demo_uses_its_own_records_and_cleans_up(tmp_path: Path, signum: int, code: int) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    operator_db = tmp_path / "operator" / "gate.db"
    env = {
        **os.environ,
        "TMPDIR": str(temp),
        "GATE_DATABASE_URL": f"sqlite:///{operator_db}",
        "GATE_AUDIT_WITNESS_DIR": str(tmp_path / "operator-witness"),
    }
    proc = subprocess.Popen(
        [GATE, "demo", "--keep-running", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["endpoint"].startswith("http://127.0.0.1:")
        made = [p for p in temp.iterdir() if p.name.startswith("gate-demo-")]
        assert len(made) == 1 and (made[0] / "demo-records.db").exists()
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, proc.stderr.read() if proc.stderr else ""
    assert list(temp.iterdir()) == []  # the temporary folder is gone
    assert not operator_db.exists()  # the operator's records were never opened
    assert not (tmp_path / "operator-witness").exists()
