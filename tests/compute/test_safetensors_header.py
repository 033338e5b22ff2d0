"""The safetensors header reader: real files, and every kind of broken header (plus a fuzz run)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.compute.safetensors_header import (
    MAX_HEADER_BYTES,
    SafetensorsHeader,
    parse_header,
    read_local_header,
)
from gate.errors import MetadataError
from tests.compute.helpers import raw_file, save_tensors, tensors_bytes


def test_real_file_counts_parameters_per_dtype(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    expected = save_tensors(path, {"a.weight": (64, 32), "a.bias": (64,), "b": (3, 4, 5)})
    header = read_local_header(path)
    assert header.parameter_count == expected == 64 * 32 + 64 + 60
    assert header.parameters_by_dtype() == {"F16": expected}
    assert header.file_size == path.stat().st_size
    assert {t.name for t in header.tensors} == {"a.weight", "a.bias", "b"}


def test_metadata_and_mixed_dtypes(tmp_path: Path) -> None:
    data = tensors_bytes({"x": (10,)}, np.float32)
    header = parse_header(data, "mem", len(data))
    assert header.parameters_by_dtype() == {"F32": 10}
    crafted = raw_file(
        {
            "__metadata__": {"format": "pt"},
            "w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
            "q": {"dtype": "F4", "shape": [4], "data_offsets": [12, 14]},
        },
        b"\0" * 14,
    )
    parsed = parse_header(crafted, "mem", len(crafted))
    assert parsed.metadata == {"format": "pt"}
    assert parsed.parameters_by_dtype() == {"BF16": 6, "F4": 4}


def _entry(dtype: str = "F16", shape: list[int] | None = None, offsets: list[int] | None = None):
    return {"dtype": dtype, "shape": shape or [2], "data_offsets": offsets or [0, 4]}


BAD = [
    (b"\x01\x02\x03", "truncated file"),
    (struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}", "exceeds the 100000000 byte limit"),
    (struct.pack("<Q", 5000) + b"{}", "runs past the end of the file"),
    (raw_file(b"{not json}"), "invalid JSON header"),
    (raw_file(b"[1, 2]"), "header must be a JSON object"),
    (raw_file(b"\xff\xfe{}"), "not UTF-8"),
    (raw_file({"w": _entry("F17")}, b"\0" * 4), "unknown dtype 'F17'"),
    (raw_file({"w": _entry(shape=[-2])}, b"\0" * 4), "bad dimension -2"),
    (raw_file({"w": _entry(shape=[True])}, b"\0" * 4), "bad dimension True"),
    (raw_file({"w": _entry(offsets=[4, 0])}, b"\0" * 4), "bad data_offsets"),
    (raw_file({"w": _entry(offsets=[0, 6])}, b"\0" * 6), "needs 4 bytes"),
    (raw_file({"w": _entry(offsets=[0, 4])}, b"\0" * 2), "out of range"),
    (raw_file({"w": _entry(offsets=[0, 4])}, b"\0" * 9), "not described"),
    (
        raw_file({"a": _entry(offsets=[0, 4]), "b": _entry(offsets=[2, 6])}, b"\0" * 6),
        "overlaps",
    ),
    (raw_file({"a": _entry(offsets=[4, 8])}, b"\0" * 8), "gap in data"),
    (
        raw_file({"w": _entry(shape=[2**40, 2**40, 2**40], offsets=[0, 4])}, b"\0" * 4),
        "overflows",
    ),
    (
        raw_file(b'{"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}, "w": 1}'),
        "duplicate",
    ),
    (raw_file({"__metadata__": {"a": 1}}), "__metadata__"),
    (raw_file({"w": {**_entry(), "extra": 1}}, b"\0" * 4), "unexpected field"),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_headers_raise_clear_errors(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(MetadataError) as err:
        read_local_header(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)  # names the file


def test_truncated_header_in_memory() -> None:
    data = raw_file({"w": _entry()}, b"\0" * 4)
    with pytest.raises(MetadataError, match="truncated header"):
        parse_header(data[:20], "mem.safetensors")


def test_missing_file_is_metadata_error(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="cannot read"):
        read_local_header(tmp_path / "nope.safetensors")


FUZZ_EXAMPLES = int(os.environ.get("GATE_FUZZ_EXAMPLES", "600"))  # longer runs: set it

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**70) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_entries = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F16", "BF16", "F32", "I8", "F4", "XX", 3]),
        "shape": st.lists(st.integers(-1, 2**33), max_size=4) | _json_values,
        "data_offsets": st.lists(st.integers(-1, 2**34), min_size=0, max_size=3) | _json_values,
    }
)


@pytest.mark.slow
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.dictionaries(st.text(max_size=10), _entries | _json_values, max_size=5),
    declared=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
    tail=st.binary(max_size=64),
    cut=st.integers(0, 400),
    size=st.one_of(st.none(), st.integers(0, 2**40)),
)
def test_fuzz_header_parser_never_crashes(
    header: dict[str, object], declared: int | None, tail: bytes, cut: int, size: int | None
) -> None:
    """Structured fuzz: any input gives a validated header or a MetadataError, nothing else."""
    body = json.dumps(header).encode()
    data = struct.pack("<Q", len(body) if declared is None else declared) + body + tail
    data = data[: max(cut, 0)] if cut < len(data) else data
    try:
        parsed = parse_header(data, "fuzz", size)
    except MetadataError as exc:
        assert str(exc).startswith("fuzz: ")
        return
    assert isinstance(parsed, SafetensorsHeader)
    ends = sorted((t.begin, t.end) for t in parsed.tensors)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ends))


@pytest.mark.slow
@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    with contextlib.suppress(MetadataError):
        parse_header(data, "fuzz", len(data))


_VALID = tensors_bytes({"a": (3, 4), "b": (5,), "c": (2, 2, 2)})


@pytest.mark.slow
@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6
    ),
    cut=st.integers(0, len(_VALID)),
)
def test_fuzz_mutated_real_file(edits: list[tuple[int, int]], cut: int) -> None:
    """Byte flips and truncation of a real file: a valid header or a MetadataError."""
    data = bytearray(_VALID)
    for position, value in edits:
        data[position] = value
    try:
        parsed = parse_header(bytes(data[:cut]), "fuzz", cut)
    except MetadataError:
        return
    assert parsed.data_length == cut - 8 - parsed.header_length
