"""Recognising the hub's file URLs: `{endpoint}/[datasets/|spaces/]{repo}/resolve/{rev}/{path}`.

The client percent-encodes the revision (`refs%2Fpr%2F1`) and the file path, so URLs are read
from the raw path and each segment is decoded exactly once, as the gate does. A file path with an
empty, `.` or `..` segment (also when percent-encoded) is refused: the path names where a receipt
is kept on disk and must never step outside the receipts folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from weight_gate_hf.errors import GateVerificationError

_REPO_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TYPE_PREFIXES = {"datasets": "dataset", "spaces": "space"}
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True, slots=True)
class FileRef:
    """One file of one repository at one revision, as a `/resolve/` URL names it."""

    repo_type: str
    repo_id: str
    revision: str
    path: str


def check_file_path(path: str) -> str:
    """`path` if it is a clean relative POSIX path; GateVerificationError otherwise."""
    pieces = path.split("/")
    if not path or any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in pieces):
        raise GateVerificationError(f"unacceptable file path {path!r}")
    return path


def parse_resolve_path(raw_path: str, base_path: str = "") -> FileRef | None:
    """The file a raw URL path (no query) names, or None when it is not a `/resolve/` URL.

    `base_path` is the endpoint's own path prefix (an endpoint such as `https://host/hub`).
    """
    base = base_path.rstrip("/")
    if base:
        if not raw_path.startswith(base + "/"):
            return None
        raw_path = raw_path[len(base) :]
    segments = raw_path.lstrip("/").split("/")
    repo_type = "model"
    if segments and segments[0] in _TYPE_PREFIXES:
        repo_type = _TYPE_PREFIXES[segments[0]]
        segments = segments[1:]
    for repo_len in (2, 1):
        if len(segments) > repo_len + 2 and segments[repo_len] == "resolve":
            names = [unquote(s, errors="strict") for s in segments[:repo_len]]
            if not all(_REPO_SEGMENT.match(n) for n in names):
                return None
            revision = unquote(segments[repo_len + 1], errors="strict")
            path = "/".join(unquote(s, errors="strict") for s in segments[repo_len + 2 :])
            return FileRef(repo_type, "/".join(names), revision, check_file_path(path))
    return None


def repo_folder_name(repo_id: str, repo_type: str = "model") -> str:
    """The cache folder of a repository (`models--org--name`), as the client names it."""
    return "--".join([f"{repo_type}s", *repo_id.split("/")])


def repo_id_from_folder(folder: str) -> tuple[str, str]:
    """(repo_type, repo_id) from a cache folder name; GateVerificationError when not one."""
    kind, _, rest = folder.partition("--")
    if kind not in ("models", "datasets", "spaces") or not rest:
        raise GateVerificationError(f"{folder!r} is not a Hugging Face cache repository folder")
    return kind[:-1], rest.replace("--", "/")
