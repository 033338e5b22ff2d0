"""Bases classified through the same source: known ones add their compute, loops and fans end.

Through the real local store and the service's facts provider (the server's path): a child's
named base that lives in the same source is classified there; a cycle of bases, or a card naming
more bases than the gate will classify, leaves the high end unknown instead of looping.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gate.core.values import ModelFacts
from gate.hub.layout import write_snapshot
from gate.hub.local import LocalStore
from gate.rules.loader import load_default_ruleset
from gate.service.classifying import BASE_CLASSIFICATIONS, ModelFactsProvider
from tests.server.conftest import safetensors_bytes

RULES = load_default_ruleset()


def _card(*bases: str) -> bytes:
    listed = "".join(f"  - {b}\n" for b in bases)
    return f"---\nlicense: other\nbase_model:\n{listed}---\n".encode()


def _facts(root: Path, repo: str) -> tuple[ModelFacts, list[str]]:
    source = LocalStore(root)
    asked: list[str] = []
    original = source.resolve

    async def resolve(repo_id: str, revision: str):  # type: ignore[no-untyped-def]
        asked.append(repo_id)
        return await original(repo_id, revision)

    source.resolve = resolve  # type: ignore[method-assign]
    provider = ModelFactsProvider(source, RULES, load=lambda r, c: None, save=lambda f: None)

    async def run() -> ModelFacts:
        return await provider.facts(await source.resolve(repo, "main"))

    return asyncio.run(run()), asked


def test_a_base_in_the_same_source_is_classified_and_added(tmp_path: Path) -> None:
    write_snapshot(tmp_path, "lab/base", {"model.safetensors": safetensors_bytes(1)})
    write_snapshot(
        tmp_path,
        "lab/child",
        {"model.safetensors": safetensors_bytes(2), "README.md": _card("lab/base")},
    )
    facts, _ = _facts(tmp_path, "lab/child")
    alone, _ = _facts(tmp_path, "lab/base")
    assert facts.training_compute.high is not None and alone.training_compute.high is not None
    assert facts.training_compute.high > alone.training_compute.high  # base's plus its own
    assert "lineage" in facts.training_compute.method


def test_a_cycle_of_bases_ends_unknown(tmp_path: Path) -> None:
    write_snapshot(
        tmp_path, "lab/a", {"model.safetensors": safetensors_bytes(1), "README.md": _card("lab/b")}
    )
    write_snapshot(
        tmp_path, "lab/b", {"model.safetensors": safetensors_bytes(2), "README.md": _card("lab/a")}
    )
    facts, asked = _facts(tmp_path, "lab/a")
    assert facts.training_compute.high is None
    assert len(asked) <= 1 + BASE_CLASSIFICATIONS


def test_a_fan_of_bases_is_bounded(tmp_path: Path) -> None:
    names = [f"lab/b{i}" for i in range(6)]
    for name in names:
        # each base names every other: 6 x 6 x ... without a budget
        write_snapshot(
            tmp_path, name, {"model.safetensors": safetensors_bytes(3), "README.md": _card(*names)}
        )
    write_snapshot(
        tmp_path,
        "lab/root",
        {"model.safetensors": safetensors_bytes(4), "README.md": _card(*names)},
    )
    facts, asked = _facts(tmp_path, "lab/root")
    assert facts.training_compute.high is None
    assert len(asked) <= 1 + BASE_CLASSIFICATIONS
