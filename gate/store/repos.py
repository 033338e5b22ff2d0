"""Repository identity in the records: one normalised key, matched as the hub matches names.

The Hugging Face hub resolves `Acme/Frontier` and `acme/frontier` to the same repository, so a
designation, override, classification, license, inquiry or trained-for mark typed in one case
must apply to the other. Every records table stores and matches `repo_key(name)`; what the
operator typed is shown back with the key it matched.
"""

from __future__ import annotations

from gate.errors import InputError


def repo_key(repo_id: str) -> str:
    """The records' key for a repository id: stripped, lower case. InputError when unusable."""
    repo = repo_id.strip()
    if not repo or repo.startswith("/") or any(c.isspace() for c in repo) or len(repo) > 300:
        raise InputError("repo", f"not a repository id: {repo_id[:100]!r}")
    return repo.lower()


def same_repo(a: str, b: str) -> bool:
    """Whether two repository ids name the same repository."""
    return a.strip().lower() == b.strip().lower()
