"""The safetensors header window: shown to anyone only when it is a real header (RULES.md).

A refused file still serves bytes 0 to 8 + N so clients can read the architecture. Each case
below is a way an uploader could put weights into those bytes; each must give no window (0), and
the controls (real headers, metadata at the cap) must keep theirs.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.compute.safetensors_header import (
    DEFAULT_METADATA_CAP,
    header_window,
    parse_header,
    read_local_header,
    window_problem,
)
from tests.compute.helpers import raw_file, save_tensors, tensors_bytes

WEIGHTS = bytes(range(256)) * 400  # 100 KiB standing in for a closed model's weights


def _entry(offset: int, size: int) -> dict[str, object]:
    return {"dtype": "U8", "shape": [size], "data_offsets": [offset, offset + size]}


def _window(data: bytes, cap: int = DEFAULT_METADATA_CAP) -> int:
    return header_window(data, "test", len(data), cap)


def test_real_files_keep_their_window(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_tensors(path, {"a.weight": (64, 32), "a.bias": (64,)})
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    assert _window(data) == 8 + length
    assert window_problem(read_local_header(path)) is None
    with_metadata = tensors_bytes({"x": (4, 4)}, np.float32)
    assert _window(with_metadata) > 8


def test_ordinary_writers_headers_are_real() -> None:
    header = {"__metadata__": {"format": "pt"}, "w": _entry(0, 8), "b": _entry(8, 4)}
    body = json.dumps(header).encode()  # Python's spacing: ", " and ": "
    assert _window(raw_file(body, b"\0" * 12)) == 8 + len(body)
    padded = json.dumps(header, separators=(",", ":")).encode() + b" " * 7  # 8-byte alignment
    assert _window(raw_file(padded, b"\0" * 12)) == 8 + len(padded)


def test_metadata_carrying_weights_is_parameters() -> None:
    header = {"__metadata__": {"blob": WEIGHTS.hex()}, "w": _entry(0, 4)}
    data = raw_file(header, b"\0" * 4)
    assert parse_header(data, "t", len(data))  # a valid safetensors file all the same
    assert _window(data) == 0


def test_metadata_cap_is_the_rulesets() -> None:
    def with_metadata(size: int) -> bytes:
        # the rule measures json.dumps of the map: {"k": "..."} is 9 bytes plus the value
        return raw_file({"__metadata__": {"k": "x" * (size - 9)}, "w": _entry(0, 2)}, b"\0\0")

    assert _window(with_metadata(DEFAULT_METADATA_CAP)) > 0
    assert _window(with_metadata(DEFAULT_METADATA_CAP + 1)) == 0
    assert _window(with_metadata(2000), cap=1000) == 0
    assert _window(with_metadata(1000), cap=1000) > 0


def test_header_without_tensors_is_parameters() -> None:
    data = raw_file({"__metadata__": {"w": WEIGHTS[:1000].hex()}})
    assert parse_header(data, "t", len(data)).tensors == ()
    assert _window(data) == 0
    assert _window(raw_file({})) == 0


def test_data_not_right_after_header_is_parameters() -> None:
    # The first tensor's data starts 64 bytes in: the bytes before it are undescribed.
    data = raw_file({"w": {"dtype": "U8", "shape": [4], "data_offsets": [64, 68]}}, WEIGHTS[:68])
    assert _window(data) == 0
    # Overlapping or out-of-range offsets too.
    overlapping = raw_file({"a": _entry(0, 8), "b": _entry(4, 8)}, WEIGHTS[:12])
    assert _window(overlapping) == 0
    # A header whose length claims part of the data (tensors end before the file does).
    body = json.dumps({"w": _entry(0, 4)}).encode()
    assert _window(struct.pack("<Q", len(body)) + body + WEIGHTS[:4] + WEIGHTS) == 0


def test_weights_in_layout_or_names_are_parameters() -> None:
    bits = "".join(format(b, "08b") for b in WEIGHTS[:512])
    padding = "".join(" " if bit == "0" else "\t" for bit in bits)
    body = ('{"w": ' + json.dumps(_entry(0, 4)) + padding + "}").encode()
    assert json.loads(body)  # still valid JSON
    assert _window(raw_file(body, b"\0" * 4)) == 0
    indented = json.dumps({"w": _entry(0, 4)}, indent=8).encode()  # more space than any writer
    assert _window(raw_file(indented, b"\0" * 4)) == 0
    dims = [0, *(int.from_bytes(WEIGHTS[i : i + 7], "little") for i in range(0, 7000, 7))]
    empty = {"e": {"dtype": "U8", "shape": dims, "data_offsets": [0, 0]}, "w": _entry(0, 4)}
    assert _window(raw_file(empty, b"\0" * 4)) == 0  # weights in an empty tensor's dimensions
    rank4 = {"e": {"dtype": "U8", "shape": [0, 3, 5, 7], "data_offsets": [0, 0]}, "w": _entry(0, 4)}
    assert _window(raw_file(rank4, b"\0" * 4)) > 0
    long_name = {WEIGHTS[:2000].hex(): _entry(0, 4)}
    assert _window(raw_file(long_name, b"\0" * 4)) == 0
    duplicated = b'{"w": ' + json.dumps(_entry(0, 4)).encode()
    duplicated += b', "w": ' + json.dumps(_entry(0, 4)).encode() + b"}"
    assert _window(raw_file(duplicated, b"\0" * 4)) == 0


def test_size_unknown_or_truncated_gives_no_window() -> None:
    data = tensors_bytes({"x": (4,)})
    assert window_problem(parse_header(data, "t")) is not None  # no file size, no window
    assert header_window(data[:10], "t", len(data)) == 0
    assert header_window(b"", "t", 0) == 0


@settings(max_examples=200, deadline=None)
@given(
    tensors=st.integers(min_value=0, max_value=3),
    metadata=st.integers(min_value=0, max_value=3000),
    padding=st.integers(min_value=0, max_value=2000),
)
def test_window_only_for_tensors_small_metadata_and_little_layout(
    tensors: int, metadata: int, padding: int
) -> None:
    header: dict[str, object] = {f"t{i}": _entry(4 * i, 4) for i in range(tensors)}
    if metadata:
        header["__metadata__"] = {"k": "x" * metadata}
    compact = json.dumps(header, separators=(",", ":")).encode()
    body = compact + b" " * padding
    data = raw_file(body, b"\0" * (4 * tensors))
    window = _window(data, cap=1000)
    # Real: a tensor, metadata (as json.dumps measures it) within the cap, and no more white
    # space than alignment and ordinary spacing (an eighth of the compact JSON, plus 8).
    real = tensors > 0 and metadata + 9 <= 1000 and padding <= 8 + len(compact) // 8
    assert window == (8 + len(body) if real else 0)


@pytest.mark.parametrize("extra", [1, 8, 1000])
def test_trailing_bytes_after_described_data_close_the_window(extra: int) -> None:
    data = tensors_bytes({"x": (4,)}) + WEIGHTS[:extra]
    assert _window(data) == 0
