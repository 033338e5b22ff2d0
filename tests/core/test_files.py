"""The fail-closed "is this file parameters?" test and the real-safetensors-header test."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.core.files import is_real_safetensors_header, safetensors_header_problem, tensor_signature
from gate.rules.loader import load_default_ruleset

FILES = load_default_ruleset().files


def safetensors(header: Mapping[str, object], data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


REAL = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}

# One real opening of each container the test knows.
SIGNATURES = {
    "safetensors": safetensors(REAL, b"\0" * 16),
    "zip": b"PK\x03\x04\x14\x00\x00\x00",
    "pickle": b"\x80\x02}q\x00(X",
    "pickle5": b"\x80\x05\x95\x10\x00",
    "gguf": b"GGUF\x03\x00\x00\x00",
    "hdf5": b"\x89HDF\r\n\x1a\n",
    "numpy": b"\x93NUMPY\x01\x00v\x00",
    "tflite": b"\x1c\x00\x00\x00TFL3",
    "gzip": b"\x1f\x8b\x08\x00",
    "zstd": b"\x28\xb5\x2f\xfd",
    "ggjt": b"tjgg\x01\x00",
    "tar": b"x" * 257 + b"ustar\x0000",
}


@pytest.mark.parametrize(
    "name",
    [
        # Issue 10's list: real formats, renamed files, today's old exception list.
        "model.sft",
        "model.pte",
        "rust_model.ot",
        "inference.pdiparams",
        "net.caffemodel",
        "yolo.weights",
        "handler.mar",
        "model.safetensors.bak",
        "model.safetensors.part1",
        "model.bin.1",
        "training_args.bin",
        "optimizer_args.bin",
        "scheduler.pt",
        "rng_state_0.pth",
        "model.onnx",
        "LICENSE.safetensors",
        "readme.bin",
        "config.json.bak",
        "",
    ],
)
def test_unknown_names_are_parameters(name: str) -> None:
    assert FILES.is_parameters(name)
    assert FILES.is_parameters(f"sub/dir/{name}")


@pytest.mark.parametrize(
    "name",
    [
        "config.json",
        "CONFIG.JSON",
        "generation_config.json",
        "model.safetensors.index.json",
        "tokenizer.json",
        "tokenizer.model",
        "README.md",
        "LICENSE",
        "modeling_acme.py",
        "assets/diagram.png",
        "weight-gate.sig",
    ],
)
def test_named_files_with_agreeing_bytes_are_not_parameters(name: str) -> None:
    assert not FILES.is_parameters(name)  # the name-only reading the server uses today
    head = b"\x89PNG\r\n\x1a\n rest" if name.endswith(".png") else b'{"text": "caf\xc3\xa9"}\n'
    assert not FILES.is_parameters(name, head, len(head))


@pytest.mark.parametrize("kind", sorted(SIGNATURES))
@pytest.mark.parametrize("name", ["config.json", "README.md", "tokenizer.model", "logo.png"])
def test_a_tensor_signature_makes_any_named_file_parameters(kind: str, name: str) -> None:
    head = SIGNATURES[kind]
    assert tensor_signature(head) is not None, kind
    check = FILES.check(name, head, None)
    assert check.parameters and check.category is not None


def test_text_must_be_utf8_and_images_must_look_like_images() -> None:
    assert FILES.is_parameters("README.md", b"\xff\xfe\x00garbage", 8)
    assert FILES.is_parameters("README.md", b"text with a NUL \x00 byte", 20)
    assert FILES.is_parameters("logo.png", b"not a png at all", 16)
    assert not FILES.is_parameters("photo.jpg", b"\xff\xd8\xff\xe0 jpeg", 9)
    # A multi-byte character cut at the end of the bytes read is fine when the file goes on ...
    assert not FILES.is_parameters("README.md", "caf\u00e9".encode()[:-1], 1000)
    # ... but not when those bytes are the whole file.
    assert FILES.is_parameters("README.md", "caf\u00e9".encode()[:-1], 4)


def test_size_cap_for_non_parameter_files() -> None:
    cap = FILES.max_non_parameter_bytes
    assert not FILES.is_parameters("tokenizer.json", None, cap)
    assert FILES.is_parameters("tokenizer.json", None, cap + 1)
    assert FILES.is_parameters("tokenizer.json", b"{}", cap + 1)


names = st.one_of(
    st.sampled_from(
        [
            "config.json",
            "README.md",
            "tokenizer.json",
            "tokenizer.model",
            "a.png",
            "x.py",
            "LICENSE",
        ]
    ),
    st.text(min_size=0, max_size=30),
)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(
    names,
    st.sampled_from(sorted(SIGNATURES)),
    st.binary(max_size=64),
    st.none() | st.integers(0, 2**40),
)
def test_property_tensor_signature_is_never_not_parameters(
    name: str, kind: str, tail: bytes, size: int | None
) -> None:
    head = SIGNATURES[kind] + tail
    assert FILES.is_parameters(name, head, size)


@settings(max_examples=300, deadline=None)
@given(names, st.binary(min_size=9, max_size=64))
def test_property_any_detected_signature_is_parameters(name: str, head: bytes) -> None:
    if tensor_signature(head) is not None:
        assert FILES.is_parameters(name, head, None)


def test_real_safetensors_header() -> None:
    cap = 65536
    raw = json.dumps(REAL).encode()
    assert is_real_safetensors_header(raw, cap)
    assert is_real_safetensors_header(raw + b"    ", cap)  # alignment padding
    with_meta = {"__metadata__": {"format": "pt"}, **REAL}
    assert is_real_safetensors_header(json.dumps(with_meta).encode(), cap)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ({"__metadata__": {"format": "pt"}}, "no tensor"),
        ({}, "no tensor"),
        ({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 32]}}, "right after"),
        ({"__metadata__": {"blob": "x" * 70000}, **REAL}, "over the"),
        ({"__metadata__": {"n": 1}, **REAL}, "map of strings"),
        ({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 15]}}, "span"),
        ({"w": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 2]}}, "dtype"),
        ({"w": {**REAL["w"], "extra": "payload"}}, "exactly"),
        (
            {**REAL, "v": {"dtype": "U8", "shape": [4], "data_offsets": [20, 24]}},
            "gaps",
        ),
        ([1, 2], "JSON object"),
    ],
)
def test_fake_safetensors_headers_are_parameters(header: object, problem: str) -> None:
    found = safetensors_header_problem(json.dumps(header).encode(), 65536)
    assert found is not None and problem in found, found
    assert safetensors_header_problem(b"\xff{not json", 65536) == "not a JSON object"


def test_header_bytes_the_parser_would_drop_are_refused() -> None:
    cap = 65536
    real = json.dumps(REAL)
    # A duplicate key: json.loads keeps the last value, the window would show the first.
    hidden = '{"w": {"payload": "' + "A" * 5000 + '"}, ' + real[1:]
    assert "twice" in (safetensors_header_problem(hidden.encode(), cap) or "")
    # White space is ignored by the parser; a lot of it is a hiding place.
    padded = real[:-1] + " \t\n" * 2000 + "}"
    assert "white space" in (safetensors_header_problem(padded.encode(), cap) or "")
    # An ordinary writer's spacing (json.dumps defaults) and 8-byte alignment are fine.
    spaced = json.dumps({"__metadata__": {"format": "pt"}, **REAL}, indent=None)
    assert is_real_safetensors_header((spaced + " " * 7).encode(), cap)


def test_a_header_written_by_the_safetensors_library_is_real() -> None:
    np = pytest.importorskip("numpy")
    save = pytest.importorskip("safetensors.numpy").save
    data = save(
        {
            "model.layers.0.weight": np.zeros((3, 5), dtype=np.float32),
            "b": np.ones((7,), dtype=np.float16),
            "empty": np.zeros((0,), dtype=np.int64),
        },
        metadata={"format": "np", "note": "h\u00e9llo"},
    )
    (length,) = struct.unpack("<Q", data[:8])
    assert tensor_signature(data[:512]) == "safetensors"
    assert safetensors_header_problem(data[8 : 8 + length], 65536) is None
    assert FILES.is_parameters("config.json", data[:512], len(data))
