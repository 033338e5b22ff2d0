"""First-sight classification in the proxy: declarations must speak for this very commit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.compute.declaration import parse_declaration, sign_declaration, verify_declaration
from gate.compute.pipeline import DECLARATION_FILE, binding_problem
from gate.compute.reader import RepoFile
from gate.core.canonical import sha256_hex
from gate.core.values import ModelFacts
from gate.crypto.dsse import key_id
from gate.hub.layout import write_snapshot
from gate.hub.local import LocalStore
from gate.rules.loader import load_default_ruleset
from gate.service.classifying import ModelFactsProvider
from tests.server.conftest import safetensors_bytes

RULES = load_default_ruleset()
DECLARER = ec.generate_private_key(ec.SECP256R1())
TRUSTED = {key_id(DECLARER.public_key()): DECLARER.public_key()}


def declaration(
    repo: str, digests: dict[str, str] | None = None, commit: str | None = None, total: float = 3e26
) -> dict[str, object]:
    model: dict[str, object] = {"repo": repo}
    if digests is not None:
        model["weight_digests"] = digests
    if commit is not None:
        model["commit"] = commit
    doc = parse_declaration(
        {"model": model, "total_operations": total, "declarer": {"name": "R"}, "date": "2025-09-01"}
    )
    return sign_declaration(doc, DECLARER)


def facts_for(root: Path, repo: str, files: dict[str, bytes]) -> ModelFacts:
    write_snapshot(root, repo, files)
    source = LocalStore(root)
    saved: list[ModelFacts] = []
    provider = ModelFactsProvider(
        source, RULES, load=lambda r, c: None, save=saved.append, trusted_declarers=TRUSTED
    )

    async def run() -> ModelFacts:
        resolved = await source.resolve(repo, "main")
        return await provider.facts(resolved)

    return asyncio.run(run())


def test_a_bound_declaration_settles_compute(tmp_path: Path) -> None:
    weights = safetensors_bytes(1)
    envelope = declaration("lab/big", {"model.safetensors": sha256_hex(weights)})
    facts = facts_for(
        tmp_path,
        "lab/big",
        {
            "model.safetensors": weights,
            DECLARATION_FILE: json.dumps(envelope).encode(),
            "README.md": b"---\nlicense: other\ngated: manual\n---\n",
        },
    )
    assert facts.training_compute.low == pytest.approx(3e26)
    assert facts.declaration_id is not None and facts.published is False


@pytest.mark.parametrize("case", ["other repo", "other digest", "uncovered shard", "other commit"])
def test_a_declaration_for_something_else_is_ignored(tmp_path: Path, case: str) -> None:
    weights, extra = safetensors_bytes(1), safetensors_bytes(2)
    files = {"model-1.safetensors": weights, "model-2.safetensors": extra}
    digests = {p: sha256_hex(b) for p, b in files.items()}
    # A low declared figure copied onto this model must not clear it.
    if case == "other repo":
        envelope = declaration("lab/small", digests, total=1e22)
    elif case == "other digest":
        envelope = declaration("lab/big", {**digests, "model-1.safetensors": "0" * 64}, total=1e22)
    elif case == "uncovered shard":
        envelope = declaration(
            "lab/big", {"model-1.safetensors": digests["model-1.safetensors"]}, total=1e22
        )
    else:
        envelope = declaration("lab/big", commit="f" * 40, total=1e22)
    facts = facts_for(
        tmp_path, "lab/big", {**files, DECLARATION_FILE: json.dumps(envelope).encode()}
    )
    assert facts.declaration_id is None
    assert facts.training_compute.method != "declaration"


def test_binding_problem_names_the_mismatch(tmp_path: Path) -> None:
    from gate.hub.source import Resolved
    from gate.service.readers import SourceReader

    envelope = declaration("lab/big", {"w.safetensors": "a" * 64})
    found = verify_declaration(envelope, TRUSTED)
    write_snapshot(tmp_path, "lab/big", {"w.safetensors": safetensors_bytes(1)})
    source = LocalStore(tmp_path)

    async def run() -> str | None:
        resolved: Resolved = await source.resolve("lab/big", "main")
        reader = SourceReader(source, resolved)
        files = {f.path: f for f in await reader.list_files()}
        assert isinstance(files["w.safetensors"], RepoFile)
        return await binding_problem(found, reader, files, RULES.is_parameters)

    problem = asyncio.run(run())
    assert problem is not None and "does not match" in problem


def test_broken_metadata_leaves_every_fact_unknown(tmp_path: Path) -> None:
    facts = facts_for(
        tmp_path,
        "lab/broken",
        {
            "model.safetensors": b"\xff" * 7,  # shorter than the 8-byte header length
            "README.md": b"---\nlicense: apache-2.0\n---\n",
        },
    )
    assert facts.published is None
    assert (facts.training_compute.low, facts.training_compute.high) == (None, None)
    assert facts.training_compute.method == "unclassified"


def test_weights_beside_the_counted_files_leave_compute_open(tmp_path: Path) -> None:
    """A closed model shipped as a pickle next to a tiny safetensors file must not pass as small:
    the tiny header's count would put the upper bound far below 1e26."""
    files = {
        "model.safetensors": safetensors_bytes(1),
        "pytorch_model.bin": b"\x80\x04" + b"\x00" * 4096,  # not counted: no header to read
        "README.md": b"---\nlicense: other\ngated: manual\n---\n",
    }
    facts = facts_for(tmp_path, "lab/sneaky", files)
    assert facts.training_compute.high is None
    tiny = facts_for(
        tmp_path / "b", "lab/tiny", {k: v for k, v in files.items() if k != "pytorch_model.bin"}
    )
    assert tiny.training_compute.high is not None and tiny.training_compute.high < 1e26
