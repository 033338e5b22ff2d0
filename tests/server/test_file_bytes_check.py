"""`FileBytes`: which bytes the gate looks at, once per file and commit, and what they say.

No server: a real local store on disk, the shipped ruleset set (the gatekeeper's file test).
RULES.md "What is controlled": a file is not parameters only when its name says so and its bytes
agree; a read that fails or bytes that are not the listed ones make it parameters.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.core.files import FileCheck, tensor_signature
from gate.core.ruleset_set import RulesetSet
from gate.hub.layout import write_snapshot
from gate.hub.local import LocalStore
from gate.rules.loader import load_default_ruleset, load_shipped_set
from gate.service.file_bytes import FileBytes

RULES: RulesetSet = load_shipped_set()
REPO = "lab/files"


async def _check(root: Path, path: str, *, checker: FileBytes | None = None) -> FileCheck:
    store = LocalStore(root)
    resolved = await store.resolve(REPO, "main")
    entry = await store.file(REPO, resolved.commit, path)
    return await (checker or FileBytes(store)).check(RULES, resolved, entry)


def _blob(root: Path, path: str) -> Path:
    snapshot = next((root / "models--lab--files" / "snapshots").iterdir())
    return Path(os.path.realpath(snapshot / path))


def test_name_and_bytes_agree(tmp_path: Path) -> None:
    write_snapshot(tmp_path, REPO, {"config.json": b'{"a": 1}', "tokenizer.json": b"{}"})
    found = asyncio.run(_check(tmp_path, "config.json"))
    assert not found.parameters, found


def test_signature_after_an_honest_name(tmp_path: Path) -> None:
    files = {
        "config.json": struct.pack("<Q", 2) + b"{}" + b"\x00" * 64,
        "README.md": pickle.dumps(b"\x01" * 300, protocol=4),
        "vocab.txt": b"hello\n" * 200 + b"\xff\xfe\x00\x01",
    }
    write_snapshot(tmp_path, REPO, files)
    for path in files:
        assert asyncio.run(_check(tmp_path, path)).parameters, path


def test_a_failed_read_is_parameters(tmp_path: Path) -> None:
    write_snapshot(tmp_path, REPO, {"config.json": b'{"a": 1}'})

    async def run() -> FileCheck:
        store = LocalStore(tmp_path)
        resolved = await store.resolve(REPO, "main")
        entry = await store.file(REPO, resolved.commit, "config.json")
        _blob(tmp_path, "config.json").unlink()  # listed, then gone
        return await FileBytes(store).check(RULES, resolved, entry)

    found = asyncio.run(run())
    assert found.parameters and "could not be read" in found.reason


def test_bytes_that_are_not_the_listed_ones_are_parameters(tmp_path: Path) -> None:
    write_snapshot(tmp_path, REPO, {"config.json": b'{"a": 1}'})

    async def run() -> FileCheck:
        store = LocalStore(tmp_path)
        resolved = await store.resolve(REPO, "main")
        entry = await store.file(REPO, resolved.commit, "config.json")
        _blob(tmp_path, "config.json").write_bytes(b'{"a": 2}')  # same size, other bytes
        return await FileBytes(store).check(RULES, resolved, entry)

    found = asyncio.run(run())
    assert found.parameters and "do not match" in found.reason


def test_the_answer_is_kept_per_file_and_commit(tmp_path: Path) -> None:
    write_snapshot(tmp_path, REPO, {"config.json": b'{"a": 1}'})

    async def run() -> tuple[FileCheck, FileCheck]:
        store = LocalStore(tmp_path)
        checker = FileBytes(store)
        resolved = await store.resolve(REPO, "main")
        entry = await store.file(REPO, resolved.commit, "config.json")
        first = await checker.check(RULES, resolved, entry)
        _blob(tmp_path, "config.json").unlink()  # a second read would fail: none happens
        return first, await checker.check(RULES, resolved, entry)

    first, second = asyncio.run(run())
    assert not first.parameters and second == first


def test_over_the_cap_is_parameters_without_a_read(tmp_path: Path) -> None:
    write_snapshot(tmp_path, REPO, {"config.json": b"{}"})
    cap = load_default_ruleset().files.max_non_parameter_bytes
    found = RULES.check_file("config.json", None, cap + 1)
    assert found.parameters


NAMES = st.sampled_from(
    [
        "config.json",
        "tokenizer.json",
        "README.md",
        "vocab.txt",
        "preprocessor_config.json",
        "generation_config.json",
        "merges.txt",
        "tokenizer_config.json",
        "sub/special_tokens_map.json",
        "logo.png",
        "modeling.py",
        "model.safetensors",
        "weights.sft",
    ]
)
SIGNED = st.sampled_from(
    [
        struct.pack("<Q", 40) + b"{",
        b"PK\x03\x04",
        b"\x80\x02",
        b"\x80\x04",
        b"GGUF",
        b"\x89HDF",
        b"\x93NUMPY",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NAMES, prefix=SIGNED, rest=st.binary(max_size=2048))
def test_a_tensor_signature_is_never_not_parameters(
    tmp_path: Path, name: str, prefix: bytes, rest: bytes
) -> None:
    data = prefix + rest
    assert tensor_signature(data) is not None
    root = tmp_path / os.urandom(6).hex()
    write_snapshot(root, REPO, {name: data})
    assert asyncio.run(_check(root, name)).parameters


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NAMES, data=st.binary(max_size=2048) | st.text(max_size=512).map(str.encode))
def test_not_parameters_only_when_name_and_bytes_agree(
    tmp_path: Path, name: str, data: bytes
) -> None:
    root = tmp_path / os.urandom(6).hex()
    write_snapshot(root, REPO, {name: data})
    found = asyncio.run(_check(root, name))
    if not found.parameters:
        assert RULES.check_file(name).parameters is False  # the name says not parameters
        assert tensor_signature(data) is None
        if not name.endswith(".png"):
            assert b"\x00" not in data
            data.decode("utf-8")  # text: valid UTF-8 throughout
