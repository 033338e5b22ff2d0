"""One classification path (issue 10 item 7): for the same commit and settings, the server,
`gate classify REPO --endpoint`, `gate classify FOLDER` and `gate estimate FOLDER` give the same
interval, publication status and evidence, on every model of the demo.

The demo's frontier model carries a compute declaration of 3.2e26 signed by a key the gate
trusts through GATE_TRUSTED_DECLARER_KEYS: the CLI must read it as the server does, not fall
back to a parameter count that puts the model below the threshold.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.cli.main import run
from gate.core.values import ModelFacts
from gate.demo.scenario import DemoWorld, build_world, seed_records
from gate.server.background import BackgroundServer
from gate.server.serve import Gate, build_gate

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DemoWorld, Gate]]:
    world = build_world(tmp_path / "world")
    keys = [str(p) for p in world.settings.trusted_declarer_keys]
    # The CLI reads the same settings the server was built from.
    monkeypatch.setenv("GATE_TRUSTED_DECLARER_KEYS", json.dumps(keys))
    gate = build_gate(world.settings)
    seed_records(world, gate.store)
    try:
        yield world, gate
    finally:
        gate.close()


def server_facts(gate: Gate, repo_id: str) -> ModelFacts:
    """What the server decides on: its facts provider, as `/resolve` asks it."""
    facts = gate.service.facts

    async def classify() -> ModelFacts:
        resolved = await facts.source.resolve(repo_id, "main")
        return await facts.facts(resolved)

    return asyncio.run(classify())


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert run([*argv, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def interval(out: dict[str, Any]) -> tuple[Any, ...]:
    return out["low"], out["high"], out["central"], out["method"], tuple(out["evidence"])


def snapshot_folder(world: DemoWorld, repo_id: str) -> Path:
    snapshots = world.store_dir / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    (folder,) = snapshots.iterdir()
    return folder


def test_cli_and_server_classify_the_demo_models_alike(
    demo: tuple[DemoWorld, Gate], capsys: pytest.CaptureFixture[str]
) -> None:
    world, gate = demo
    token = world.tokens["example"]
    with BackgroundServer(gate.app) as server:
        for model in world.models:
            repo_id = model.repo_id
            facts = server_facts(gate, repo_id)
            compute = facts.training_compute
            expected = (
                compute.low,
                compute.high,
                compute.central,
                compute.method,
                compute.evidence,
            )
            remote = cli(capsys, "classify", repo_id, "--endpoint", server.url, "--token", token)
            folder = snapshot_folder(world, repo_id)
            local = cli(capsys, "classify", str(folder))
            estimate = cli(capsys, "estimate", str(folder))
            for out in (remote, local, estimate):
                assert interval(out) == expected, repo_id
            for out in (remote, local):
                assert out["published"] is facts.published, repo_id
                assert out["publication_evidence"] == facts.publication_evidence, repo_id
    frontier = server_facts(gate, "acme/frontier-x").training_compute
    assert frontier.low == pytest.approx(3.2e26) and frontier.method == "declaration"
