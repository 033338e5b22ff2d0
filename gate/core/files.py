"""Which files are parameters: the fail-closed test of RULES.md ("What is controlled"), pure.

A file is NOT parameters only when the ruleset names it as such (a category of name patterns:
configuration, tokenizer, documentation, code, images) and, where the gate can see its bytes,
the bytes agree: a text-named file holds valid UTF-8 text, no file opens with the signature of a
tensor container, a category that declares its own signatures (images) opens with one of them,
and the file is under the ruleset's size cap. Every other file, including every name the ruleset
does not know, is parameters.

Also here: whether the header of a safetensors file is a real header, the only part of a weights
file that may be shown to anyone (it describes the architecture, not the parameters).
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from dataclasses import dataclass
from fnmatch import translate
from functools import cached_property
from typing import Any

# Container signatures at offset 0 (name, prefix). ONNX and TensorFlow protobufs have none: their
# names are simply never on a not-parameters list.
_PREFIXES: tuple[tuple[str, bytes], ...] = (
    ("zip (PyTorch, npz, keras)", b"PK\x03\x04"),
    ("zip (empty or spanned)", b"PK\x05\x06"),
    ("zip (spanned)", b"PK\x07\x08"),
    ("gguf", b"GGUF"),
    ("ggml", b"lmgg"),
    ("ggmf", b"fmgg"),
    ("ggjt", b"tjgg"),
    ("hdf5", b"\x89HDF"),
    ("numpy", b"\x93NUMPY"),
    ("gzip", b"\x1f\x8b"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("xz", b"\xfd7zXZ\x00"),
    ("bzip2", b"BZh"),
    ("7z", b"7z\xbc\xaf\x27\x1c"),
    ("llamafile", b"MZqFpD"),
)
SIGNATURE_BYTES = 512
"""Read at least this many first bytes of a file for `tensor_signature` to see every signature
it knows (tar's sits at offset 257). Reading more (the whole file, for small text files) makes the
UTF-8 test cover more of the file."""

# Pickle protocols 2 to 5 open with PROTO (0x80) and the protocol number.
_PICKLE = re.compile(rb"\x80[\x02-\x05]")


def tensor_signature(head: bytes) -> str | None:
    """The tensor container `head` (a file's first bytes) opens with, or None.

    safetensors: an 8-byte little-endian header length below 4 GiB followed by `{`; PyTorch zip
    and pickle; GGUF/GGML; HDF5 (Keras); NumPy; TFLite (`TFL3` at offset 4); compressed archives
    and tar, which can hold any of them.
    """
    if len(head) >= 9 and head[8:9] == b"{" and head[4:8] == b"\x00\x00\x00\x00":
        return "safetensors"
    for name, prefix in _PREFIXES:
        if head.startswith(prefix):
            return name
    if _PICKLE.match(head):
        return "pickle"
    if head[4:8] == b"TFL3":
        return "tflite"
    if head[257:262] == b"ustar":
        return "tar"
    return None


@dataclass(frozen=True, slots=True)
class FileCategory:
    """Files a ruleset names as not parameters: name patterns, and what their bytes must be.

    `text`: the bytes must be valid UTF-8 without NUL. `signatures`: when non-empty, the bytes
    must open with one of these prefixes (images: PNG, JPEG, ...).
    """

    name: str
    patterns: tuple[str, ...]
    text: bool = True
    signatures: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class FileCheck:
    """The answer for one file: parameters or not, the category that named it, and why."""

    parameters: bool
    reason: str
    category: str | None = None


@dataclass(frozen=True)
class FileRules:
    """The ruleset's data for the test: categories, the size cap, the safetensors metadata cap."""

    categories: tuple[FileCategory, ...]
    max_non_parameter_bytes: int
    safetensors_metadata_max_bytes: int = 65536

    @cached_property
    def _cache(self) -> dict[str, FileCategory | None]:
        return {}

    @cached_property
    def _regexes(self) -> tuple[tuple[re.Pattern[str], FileCategory], ...]:
        return tuple(
            (re.compile("|".join(translate(p.lower()) for p in c.patterns)), c)
            for c in self.categories
            if c.patterns
        )

    def category_of(self, path: str) -> FileCategory | None:
        """The category whose patterns name the file (base name, case-insensitive), or None."""
        name = path.rsplit("/", 1)[-1].lower()
        cache = self._cache
        if name in cache:
            return cache[name]
        found = next((c for regex, c in self._regexes if regex.match(name)), None)
        if len(cache) < 65536:  # bounded: names come from requests
            cache[name] = found
        return found

    def check(self, path: str, head: bytes | None = None, size: int | None = None) -> FileCheck:
        """Whether the file is parameters, from its name and (when known) first bytes and size.

        `head` is the file's first bytes as read (the whole file when `size` <= len(head)).
        """
        category = self.category_of(path)
        if category is None:
            return FileCheck(True, "the ruleset does not name this file as not parameters")
        cap = self.max_non_parameter_bytes
        if size is not None and size > cap:
            return FileCheck(True, f"{size} bytes, over the {cap}-byte cap", category.name)
        if head is None:
            return FileCheck(False, f"named as {category.name}", category.name)
        if len(head) > cap:
            return FileCheck(True, f"over the {cap}-byte cap", category.name)
        signature = tensor_signature(head)
        if signature is not None:
            return FileCheck(True, f"opens with a {signature} signature", category.name)
        if category.signatures and not any(head.startswith(s) for s in category.signatures):
            return FileCheck(True, f"does not open as {category.name} do", category.name)
        if category.text:
            complete = size is not None and len(head) >= size
            try:
                text = codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
            except UnicodeDecodeError:
                return FileCheck(True, "named as text but not valid UTF-8", category.name)
            if "\x00" in text:
                return FileCheck(True, "named as text but holds NUL bytes", category.name)
        return FileCheck(False, f"named as {category.name} and its bytes agree", category.name)

    def is_parameters(self, path: str, head: bytes | None = None, size: int | None = None) -> bool:
        if head is None and size is None:  # the name-only reading, on every download
            return self.category_of(path) is None
        return self.check(path, head, size).parameters


# Bytes per element of each safetensors dtype, in bits (sub-byte types pack).
_DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


def _tensor_problem(name: str, entry: Any) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        return f"tensor {name!r} is not exactly dtype, shape and data_offsets"
    bits = _DTYPE_BITS.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    shape, offsets = entry["shape"], entry["data_offsets"]
    if bits is None:
        return f"tensor {name!r} has an unknown dtype"
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        return f"tensor {name!r} has a bad shape"
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        return f"tensor {name!r} has bad data_offsets"
    elements = 1
    for d in shape:
        elements *= d
    if elements * bits != (offsets[1] - offsets[0]) * 8:
        return f"tensor {name!r}: data_offsets do not span its shape and dtype"
    return None


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(repr(key))
        result[key] = value
    return result


def safetensors_header_problem(header: bytes, metadata_max_bytes: int) -> str | None:
    """Why `header` (the JSON after the 8-byte length) is not a real header; None when it is.

    Real: a JSON object describing at least one tensor (exactly dtype, shape, data_offsets, each
    spanning its shape), the tensors tiling the data from offset 0 (the first tensor's data
    starts right after the header) without gaps or overlaps, `__metadata__` a string-to-string
    map whose JSON is at most `metadata_max_bytes`, no key twice, and no more white space than
    alignment padding and ordinary spacing. Anything else is treated as parameters.
    """
    try:
        parsed = json.loads(header.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return f"key {exc} appears twice (the parser would drop bytes the window shows)"
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "not a JSON object"
    if not isinstance(parsed, dict):
        return "not a JSON object"
    # Bytes the parser ignores (white space) are bytes the window would still show: allow the
    # alignment padding and the spacing of an ordinary writer, not a hiding place.
    longest = len(json.dumps(parsed, separators=(",", ":"), ensure_ascii=True))
    if len(header) > longest + 8 + longest // 8:
        return "more white space than any writer leaves"
    metadata = parsed.pop("__metadata__", None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            return "__metadata__ is not a map of strings"
        size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
        if size > metadata_max_bytes:
            return f"__metadata__ is {size} bytes, over the {metadata_max_bytes}-byte cap"
    if not parsed:
        return "describes no tensor"
    spans = []
    for name, entry in parsed.items():
        problem = _tensor_problem(name, entry)
        if problem is not None:
            return problem
        spans.append((entry["data_offsets"][0], entry["data_offsets"][1]))
    spans.sort()
    if spans[0][0] != 0:
        return "the first tensor's data does not start right after the header"
    for (_, end), (begin, _) in itertools.pairwise(spans):
        if begin != end:
            return "tensor data has gaps or overlaps"
    return None


def is_real_safetensors_header(header: bytes, metadata_max_bytes: int) -> bool:
    """Whether `header` may be shown as architecture (see `safetensors_header_problem`)."""
    return safetensors_header_problem(header, metadata_max_bytes) is None
