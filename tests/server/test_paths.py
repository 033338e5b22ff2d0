"""Raw-path and Range parsing: one spelling per file, anything odd refused."""

from __future__ import annotations

import pytest

from gate.errors import InputError, NotFoundError
from gate.server.paths import RangeNotSatisfiable, parse_api, parse_range, parse_resolve


def test_resolve_paths() -> None:
    hub = parse_resolve("/org/name/resolve/refs%2Fpr%2F1/sub/model.safetensors")
    assert hub is not None
    assert (hub.repo_id, hub.revision, hub.path) == (
        "org/name",
        "refs/pr/1",
        "sub/model.safetensors",
    )
    single = parse_resolve("/gpt2/resolve/main/config.json")
    assert single is not None and (single.repo_id, single.path) == ("gpt2", "config.json")
    encoded = parse_resolve("/org/name/resolve/main/a%2Fb.txt")
    assert encoded is not None and encoded.path == "a/b.txt"
    double = parse_resolve("/org/name/resolve/main/%252e%252e/x")
    assert double is not None and double.path == "%2e%2e/x"  # a literal name, in no listing
    assert parse_resolve("/org/name/blob/main/x") is None


@pytest.mark.parametrize(
    "raw",
    [
        "/org/name/resolve/main/../x",
        "/org/name/resolve/main/%2e%2e/x",
        "/org/name/resolve/main/a/./x",
        "/org/name/resolve/main/a//x",
        "/org/name/resolve/main/a%5Cx",
        "/org/name/resolve/main/a%00x",
        "/org/..%2Fname/resolve/main/x",
        "/org/na%20me/resolve/main/x",
    ],
)
def test_resolve_refuses(raw: str) -> None:
    with pytest.raises(InputError):
        parse_resolve(raw)


def test_api_paths() -> None:
    assert parse_api("/api/models/org/name") is not None
    tree = parse_api("/api/models/org/name/tree/refs%2Fpr%2F1/sub")
    assert tree is not None and (tree.kind, tree.revision, tree.path) == (
        "tree",
        "refs/pr/1",
        "sub",
    )
    rev = parse_api("/api/models/gpt2/revision/main")
    assert rev is not None and (rev.kind, rev.repo_id) == ("revision", "gpt2")
    assert parse_api("/api/whoami-v2") is None
    with pytest.raises(NotFoundError):  # a plain 404: not "repository not found"
        parse_api("/api/models/org/name/discussions/1")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 100)),
        ("bytes=0-100000", (0, 1000)),
        ("bytes=10-", (10, 1000)),
        ("bytes=-10", (990, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes=999-999", (999, 1000)),
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    ["bytes=1000-", "bytes=5-4", "bytes=0-1,5-9", "bytes=-0", "bytes=-", "pages=1-2", "bytes=a-b"],
)
def test_bad_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)
