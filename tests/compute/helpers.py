"""Builders for safetensors bytes: real files via the safetensors library, raw crafted headers."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save, save_file


def raw_file(header: dict[str, Any] | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    """A safetensors byte string with an arbitrary (possibly invalid) header."""
    body = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(body) if length is None else length
    return struct.pack("<Q", n) + body + data


def header_only(
    tensors: dict[str, tuple[str, list[int]]], bits: dict[str, int]
) -> tuple[bytes, int]:
    """(header prefix, total file size) for tensors described by (dtype, shape): no data bytes."""
    header: dict[str, Any] = {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = 1
        for d in shape:
            n *= d
        size = n * bits[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    prefix = raw_file(header)
    return prefix, len(prefix) + offset


def save_tensors(path: Path, tensors: dict[str, tuple[int, ...]], dtype: Any = np.float16) -> int:
    """Write a real safetensors file of zeros; returns the parameter count."""
    arrays = {name: np.zeros(shape, dtype=dtype) for name, shape in tensors.items()}
    save_file(arrays, str(path))
    return sum(a.size for a in arrays.values())


def tensors_bytes(tensors: dict[str, tuple[int, ...]], dtype: Any = np.float16) -> bytes:
    return save({name: np.zeros(shape, dtype=dtype) for name, shape in tensors.items()})
