"""`gate demo --keep-running` serves the console too, with a demo officer shown once."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gate.demo.run import run_demo
from tests.console.conftest import review_form, sign_in


@pytest.mark.slow
def test_the_demo_serves_the_console_with_a_demo_officer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, object] = {}

    def wait() -> None:
        first = json.loads(capsys.readouterr().out.splitlines()[0])
        console = first["console"]
        client = sign_in(console["url"], console["officer"], console["password"])
        queue = client.get("/")
        seen.update(status=queue.status_code, page=queue.text, officer=console["officer"])
        lumen = next(r["id"] for r in first["recipients"] if r["name"].startswith("Lumen"))
        # The demo's queue has work in it: Lumen's answered inquiry, approved here.
        review = queue.text.split('id="review-h"')[1].split("</section>")[0]
        inquiry = re.search(r'href="/inquiries/(inq_[0-9a-f]+)"', review)
        assert inquiry is not None and lumen in review
        form = review_form(client, inquiry.group(1))
        done = client.post(f"/inquiries/{inquiry.group(1)}/review", data=form)
        seen["approved"] = done.status_code

    assert (
        run_demo(keep_running=True, as_json=True, workdir=tmp_path, database_url=None, wait=wait)
        == 0
    )
    assert seen["status"] == 200 and "Queue" in str(seen["page"])
    assert f"{seen['officer']} (officer)" in str(seen["page"])
    assert "compute_undetermined" in str(seen["page"])  # Nordic's hold waits for answers
    assert seen["approved"] == 303


@pytest.mark.slow
def test_gate_serve_console_port_serves_the_console_on_its_own_listener(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys
    import time

    import httpx

    from gate.demo.scenario import build_world
    from gate.store import officers
    from gate.store.db import open_store

    world = build_world(tmp_path / "world")
    env = {**os.environ, **world.settings.to_environment()}
    env.pop("GATE_PORT", None)
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from gate.cli.main import main; main()",
            "serve",
            "--port",
            "0",
            "--console-port",
            str(port),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            assert line, "gate serve exited before the console started"
            found = re.search(r"compliance console at (http://[0-9.:]+)", line)
            url = found.group(1) if found else None
        assert url == f"http://127.0.0.1:{port}"
        store = open_store(world.settings.effective_database_url)
        officers.add(store, "olivia", role="officer", password="x" * 12, actor="t")
        store.close()
        client = sign_in(url, "olivia", "x" * 12)
        assert client.get("/").status_code == 200
        assert httpx.get(f"{url}/api/models/acme/frontier-x").status_code == 404  # no hub here
    finally:
        process.terminate()
        process.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
