"""Parsing the raw request path and the Range header, strictly.

The client percent-encodes the revision (`refs%2Fpr%2F1`) and the file path, so routes are
parsed from the raw path (ASGI `raw_path`), each segment decoded exactly once. A decoded file
path is split again and must not contain `.`, `..` or empty segments: `%2e%2e` is refused like
`..`, and a double-encoded `%252e%252e` stays the literal name `%2e%2e`, which no listing holds.
Anything unusual is refused rather than normalised, so no two spellings reach different
decisions for one file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from gate.errors import InputError, excerpt
from gate.names import is_repo_segment


class RangeNotSatisfiable(InputError):
    """A Range header the gate does not serve (malformed, several ranges, past the end)."""

    http_status = 416

    def __init__(self, header: str, size: int) -> None:
        self.size = size
        super().__init__("Range", f"cannot serve {excerpt(header)} of a {size}-byte file")


@dataclass(frozen=True, slots=True)
class HubPath:
    """A parsed hub path; `kind` is "resolve" or an API route ("info", "revision", "tree")."""

    kind: str
    repo_id: str
    revision: str | None
    path: str


def _segment(raw: str) -> str:
    try:
        text = unquote(raw, errors="strict")
    except UnicodeDecodeError:  # `%ff`: bytes that are not UTF-8 name nothing the gate serves
        raise InputError("path", "percent-encoded bytes that are not UTF-8") from None
    if "\x00" in text:
        raise InputError("path", "NUL in path")
    return text


def _clean_file_path(parts: list[str]) -> str:
    decoded = "/".join(_segment(p) for p in parts)
    pieces = decoded.split("/")
    if not decoded or any(p in ("", ".", "..") or "\\" in p for p in pieces):
        raise InputError("path", f"unacceptable file path {excerpt(decoded)}")
    return decoded


def _repo(segments: list[str]) -> str:
    names = [_segment(s) for s in segments]
    if not all(is_repo_segment(n) for n in names):
        raise InputError("repo_id", f"unacceptable repository name {excerpt('/'.join(names))}")
    return "/".join(names)


def parse_resolve(raw_path: str) -> HubPath | None:
    """`/{repo}/resolve/{rev}/{path}` (repo of one or two segments), or None if not that shape."""
    segments = raw_path.lstrip("/").split("/")
    for repo_len in (2, 1):
        if len(segments) > repo_len + 2 and segments[repo_len] == "resolve":
            repo = _repo(segments[:repo_len])
            revision = _segment(segments[repo_len + 1])
            return HubPath("resolve", repo, revision, _clean_file_path(segments[repo_len + 2 :]))
    return None


_API_KINDS = ("revision", "tree", "paths-info", "xet-read-token", "safetensors-metadata")


def parse_api(raw_path: str) -> HubPath | None:
    """`/api/models/{repo}[/{kind}/{rev}[/{path}]]`, or None if not under /api/models."""
    segments = raw_path.lstrip("/").split("/")
    if len(segments) < 3 or segments[:2] != ["api", "models"]:
        return None
    rest = segments[2:]
    for repo_len in (2, 1):
        if len(rest) > repo_len and rest[repo_len] in _API_KINDS:
            kind = rest[repo_len]
            repo = _repo(rest[:repo_len])
            revision = _segment(rest[repo_len + 1]) if len(rest) > repo_len + 1 else None
            tail = rest[repo_len + 2 :]
            path = _clean_file_path(tail) if tail and tail != [""] else ""
            return HubPath(kind, repo, revision, path)
    if 1 <= len(rest) <= 2 and all(rest):
        return HubPath("info", _repo(rest), None, "")
    raise InputError("path", "unknown API route")


_RANGE_RE = re.compile(r"^bytes=([0-9]{0,19})-([0-9]{0,19})$")
"""At most 19 digits a side (no file reaches 10^19 bytes); longer numbers are refused unparsed."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single byte range as half-open [start, stop), clipped to the file, or None for none.

    Several ranges (`bytes=0-1,5-9`) are refused: one range is all the client uses, and serving
    only single ranges keeps the header-window check to one comparison.
    """
    if header is None:
        return None
    match = _RANGE_RE.match(header.strip())
    if match is None:
        raise RangeNotSatisfiable(header, size)
    first, last = match.groups()
    if first == "" and last == "":
        raise RangeNotSatisfiable(header, size)
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable(header, size)
        return max(0, size - length), size
    start = int(first)
    stop = size if last == "" else min(int(last) + 1, size)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(header, size)
    return start, stop
