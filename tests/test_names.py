"""The name grammars (`gate.names`), matched whole: nothing trails a commit or a digest."""

from __future__ import annotations

import pytest

from gate.names import is_commit, is_ref, is_repo_id, is_sha256


def test_commits_and_digests_are_whole_lowercase_hex() -> None:
    assert is_commit("a" * 40) and is_sha256("0" * 64)
    for bad in ("a" * 40 + "\n", "A" * 40, "a" * 39, "a" * 41, " " + "a" * 40, ""):
        assert not is_commit(bad), repr(bad)
    for bad in ("f" * 64 + "\n", "F" * 64, "f" * 63, "g" * 64):
        assert not is_sha256(bad), repr(bad)


@pytest.mark.parametrize("good", ["gpt2", "org/name", "Org-1/na.me_2", "a" * 96])
def test_repository_ids(good: str) -> None:
    assert is_repo_id(good)


@pytest.mark.parametrize(
    "bad", ["", "/", "org/", "/name", "a/b/c", ".hidden/x", "org/na me", "org/name\n", "a" * 97]
)
def test_not_repository_ids(bad: str) -> None:
    assert not is_repo_id(bad)


def test_refs() -> None:
    assert is_ref("main") and is_ref("refs/pr/1") and is_ref("v1.0")
    assert not is_ref("main\n") and not is_ref("a//b") and not is_ref("/main") and not is_ref("")
