"""Read and validate safetensors headers: the parameter count without reading any weights.

A safetensors file is an 8-byte little-endian header length N, then N bytes of JSON describing
every tensor (dtype, shape, byte offsets into the data section that follows), then the data. The
header is all the gate needs to count parameters, so remote files are read with one HTTP Range
request each and local ones with two small reads.

The header is untrusted input (anyone can upload a file), so it is validated as strictly as the
reference implementation does: length limits, JSON, known dtypes, shapes whose byte size matches
the offsets, offsets in range, contiguous and not overlapping. Every problem is a MetadataError
naming the file and the problem, never a traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.core.files import safetensors_header_problem
from gate.errors import MetadataError

MAX_HEADER_BYTES = 100_000_000
"""The reference implementation refuses headers over 100 MB; so does the gate (memory bound)."""

DEFAULT_METADATA_CAP = 64 * 1024
"""The shipped ruleset's cap on a shown header's `__metadata__`; callers pass their ruleset's
(`ruleset.files.safetensors_metadata_max_bytes`)."""
MAX_TENSOR_NAME_BYTES = 1024
"""A real tensor name is a dotted path of some tens of characters; a longer one is a free-form
channel through the header, so a header holding one is not shown."""
MAX_TENSOR_RANK = 16
"""Real tensors have a handful of dimensions; a tensor with zero elements may list any number of
arbitrary dimensions at no cost in data, a channel closed by bounding the rank."""

_U64_MAX = 2**64 - 1

DTYPE_BITS: Mapping[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}
"""Bits per element of every dtype safetensors 0.6 knows (sub-byte types pack densely)."""


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True)
class SafetensorsHeader:
    """One file's validated header. `file_size` is None when the reader could not learn it."""

    source: str
    header_length: int
    tensors: tuple[TensorInfo, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)
    file_size: int | None = None

    @property
    def data_length(self) -> int:
        return max((t.end for t in self.tensors), default=0)

    @property
    def parameter_count(self) -> int:
        return sum(t.numel for t in self.tensors)

    def parameters_by_dtype(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tensor in self.tensors:
            counts[tensor.dtype] = counts.get(tensor.dtype, 0) + tensor.numel
        return counts


def declared_header_length(prefix: bytes, source: str, file_size: int | None = None) -> int:
    """N from the first 8 bytes, checked against the limit and the file size."""
    if len(prefix) < 8:
        raise MetadataError(
            source, f"truncated file: {len(prefix)} bytes, shorter than the 8-byte header length"
        )
    length = int.from_bytes(prefix[:8], "little")
    if length > MAX_HEADER_BYTES:
        raise MetadataError(
            source, f"header length {length} bytes exceeds the {MAX_HEADER_BYTES} byte limit"
        )
    if length < 2:
        raise MetadataError(source, f"header length {length} is too small for a JSON object")
    if file_size is not None and 8 + length > file_size:
        raise MetadataError(
            source, f"header length {length} runs past the end of the file ({file_size} bytes)"
        )
    return length


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Two entries for one tensor would let a header describe different parameters to
            # different readers (json keeps the last, other parsers the first).
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _parse_int(value: object) -> int | None:
    # bool is an int subclass in Python; JSON true is never a dimension.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _tensor(source: str, name: str, entry: object) -> TensorInfo:
    where = f"tensor {name!r}"
    if not isinstance(entry, dict):
        raise MetadataError(source, f"{where}: expected an object, got {type(entry).__name__}")
    extra = set(entry) - {"dtype", "shape", "data_offsets"}
    if extra:
        raise MetadataError(source, f"{where}: unexpected field(s) {sorted(extra)}")
    dtype = entry.get("dtype")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise MetadataError(source, f"{where}: unknown dtype {dtype!r}")
    shape_raw = entry.get("shape")
    if not isinstance(shape_raw, list):
        raise MetadataError(source, f"{where}: shape must be a list of integers")
    shape: list[int] = []
    for dim in shape_raw:
        parsed = _parse_int(dim)
        if parsed is None:
            raise MetadataError(source, f"{where}: bad dimension {dim!r} in shape")
        shape.append(parsed)
    numel = 1
    for dim in shape:
        numel *= dim
        if numel * DTYPE_BITS[dtype] > _U64_MAX * 8:
            raise MetadataError(source, f"{where}: shape {shape_raw} overflows (product too large)")
    offsets = entry.get("data_offsets")
    if not isinstance(offsets, list) or len(offsets) != 2:
        raise MetadataError(source, f"{where}: data_offsets must be [begin, end]")
    begin, end = (_parse_int(v) for v in offsets)
    if begin is None or end is None or begin > end or end > _U64_MAX:
        raise MetadataError(source, f"{where}: bad data_offsets {offsets}")
    bits = numel * DTYPE_BITS[dtype]
    if bits % 8 or (end - begin) != bits // 8:
        raise MetadataError(
            source,
            f"{where}: data_offsets span {end - begin} bytes but {dtype} {shape} needs "
            f"{bits / 8:g} bytes",
        )
    return TensorInfo(name, dtype, tuple(shape), begin, end)


def parse_header(data: bytes, source: str, file_size: int | None = None) -> SafetensorsHeader:
    """Validate the start of a safetensors file (`data` holds at least 8 + N bytes).

    `file_size`, when known, lets the offsets be checked against the real data section.
    """
    length = declared_header_length(data, source, file_size)
    if len(data) < 8 + length:
        raise MetadataError(
            source, f"truncated header: expected {length} bytes, got {max(len(data) - 8, 0)}"
        )
    raw = data[8 : 8 + length]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(source, f"header is not UTF-8 (byte {exc.start})") from exc
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, a duplicate key, deep nesting
        raise MetadataError(source, f"invalid JSON header: {exc}") from exc
    if not isinstance(document, dict):
        raise MetadataError(source, "header must be a JSON object")
    metadata_raw = document.pop("__metadata__", {})
    if not isinstance(metadata_raw, dict) or not all(
        isinstance(v, str) for v in metadata_raw.values()
    ):
        raise MetadataError(source, "__metadata__ must map strings to strings")
    tensors = sorted(
        (_tensor(source, name, entry) for name, entry in document.items()),
        key=lambda t: (t.begin, t.end),
    )
    position = 0
    previous: TensorInfo | None = None
    for tensor in tensors:
        if tensor.begin < position:
            assert previous is not None
            raise MetadataError(
                source, f"tensor {tensor.name!r} overlaps tensor {previous.name!r} in the data"
            )
        if tensor.begin > position:
            # The reference implementation requires the data section to be fully described:
            # a gap is bytes the header hides, so it is refused rather than ignored.
            raise MetadataError(
                source,
                f"gap in data before tensor {tensor.name!r} (bytes {position}-{tensor.begin})",
            )
        position = tensor.end
        previous = tensor
    if file_size is not None:
        data_size = file_size - 8 - length
        if position > data_size:
            raise MetadataError(
                source,
                f"tensor offsets out of range: data ends at byte {position} but the file's "
                f"data section is {data_size} bytes",
            )
        if position < data_size:
            raise MetadataError(
                source, f"{data_size - position} bytes at the end of the data are not described"
            )
    return SafetensorsHeader(source, length, tuple(tensors), dict(metadata_raw), file_size)


def window_problem(header: SafetensorsHeader) -> str | None:
    """Why a parsed header may not be shown beyond the rule's own test, or None.

    The rule's test (`gate.core.files.safetensors_header_problem`: at least one tensor, data
    from offset 0 without gaps, `__metadata__` under the ruleset's cap, no key twice, no more
    white space than a writer leaves) says what a real header is. Beyond it: the file size must
    be known, so the tensors are seen to fill the file to its end (`parse_header` checks that),
    no tensor name is over `MAX_TENSOR_NAME_BYTES` and no shape over `MAX_TENSOR_RANK`
    dimensions, so weights cannot ride in names or in the dimensions of empty tensors either.
    """
    if header.file_size is None:
        return "the file size is unknown, so the data section cannot be checked"
    if not header.tensors:
        return "it describes no tensor"
    for tensor in header.tensors:
        if len(tensor.name.encode("utf-8")) > MAX_TENSOR_NAME_BYTES:
            return f"a tensor name is over {MAX_TENSOR_NAME_BYTES} bytes"
        if len(tensor.shape) > MAX_TENSOR_RANK:
            return f"a tensor has over {MAX_TENSOR_RANK} dimensions"
    return None


def header_window(
    data: bytes, source: str, file_size: int, metadata_cap: int = DEFAULT_METADATA_CAP
) -> int:
    """8 + N when `data` (at least the first 8 + N bytes of a file of `file_size` bytes) opens
    with a real safetensors header, else 0: then those bytes are parameters like the rest.

    Real: the rule's test (`gate.core.files.safetensors_header_problem`, with the ruleset's
    `__metadata__` cap), the strict parse against the file size, and `window_problem`."""
    if len(data) < 8:
        return 0
    length = int.from_bytes(data[:8], "little")
    if len(data) < 8 + length or safetensors_header_problem(data[8 : 8 + length], metadata_cap):
        return 0
    try:
        header = parse_header(data, source, file_size)
    except MetadataError:
        return 0
    return 0 if window_problem(header) else 8 + header.header_length


def read_local_header(path: Path) -> SafetensorsHeader:
    """Read only the header of a local safetensors file (two reads: length, then JSON)."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(0)
            prefix = handle.read(8)
            length = declared_header_length(prefix, source, size)
            body = handle.read(length)
    except OSError as exc:
        raise MetadataError(source, f"cannot read: {exc.strerror or exc}") from exc
    return parse_header(prefix + body, source, size)
