"""The grammars of the names the gate checks: repository ids, commits, digests, refs.

Defined once, used by the server's paths, the model sources, receipts and snapshot bundles.
Each is matched whole (`fullmatch`): a trailing newline is not part of a commit.
"""

from __future__ import annotations

import re

COMMIT_PATTERN = r"[0-9a-f]{40}"
"""A git commit (and a git blob id): 40 lowercase hex digits."""
SHA256_PATTERN = r"[0-9a-f]{64}"
"""A sha256 digest: 64 lowercase hex digits."""
REPO_SEGMENT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
"""One part of a hub repository id: letters, digits, '-', '_', '.'; at most 96 characters."""
REF_PATTERN = r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*"
"""A branch or tag name ("main", "refs/pr/1", "v1.0")."""

OPAQUE_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"
"""An id the gate hands out (decision ids, inquiry ids, audit refs): what a caller may send back."""

COMMIT_RE = re.compile(COMMIT_PATTERN)
SHA256_RE = re.compile(SHA256_PATTERN)
REPO_SEGMENT_RE = re.compile(REPO_SEGMENT_PATTERN)
REF_RE = re.compile(REF_PATTERN)
OPAQUE_ID_RE = re.compile(OPAQUE_ID_PATTERN)


def is_commit(text: str) -> bool:
    return COMMIT_RE.fullmatch(text) is not None


def is_sha256(text: str) -> bool:
    return SHA256_RE.fullmatch(text) is not None


def is_repo_segment(text: str) -> bool:
    return REPO_SEGMENT_RE.fullmatch(text) is not None


def is_repo_id(text: str) -> bool:
    """`name` or `org/name`, each part a repository segment."""
    parts = text.split("/")
    return 1 <= len(parts) <= 2 and all(is_repo_segment(p) for p in parts)


def is_ref(text: str) -> bool:
    return REF_RE.fullmatch(text) is not None


def is_opaque_id(text: str) -> bool:
    """Whether `text` can be an id the gate issued (ASCII letters, digits, `_`, `-`)."""
    return OPAQUE_ID_RE.fullmatch(text) is not None
