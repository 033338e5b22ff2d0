"""Publication needs evidence from a source the operator trusts (RULES.md, "Excluded" 1).

Written from the rule: the operator's record, or a configured publication source whose API says
public and not gated at this commit under an open license. A model card's license is a claim.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gate.compute.publication import (
    HubPublication,
    PublicationOverride,
    hub_licenses,
    hub_observation,
    is_stale,
    publication_status,
)
from gate.core.ruleset import Ruleset
from gate.rules.loader import load_default_ruleset

COMMIT = "a" * 40
OTHER = "b" * 40
HUB = "https://huggingface.co"
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def rules() -> Ruleset:
    return load_default_ruleset()


def _info(**fields: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"id": "org/model", "sha": COMMIT, "private": False, "gated": False}
    info.update(fields)
    return info


def _seen(info: dict[str, Any] | None, commit: str = COMMIT) -> HubPublication:
    return hub_observation(info, source=HUB, repo_id="org/model", commit=commit, checked_at=NOW)


def test_hub_public_ungated_open_license_is_published(rules: Ruleset) -> None:
    seen = _seen(_info(cardData={"license": "apache-2.0"}))
    result = publication_status(rules, observations=[seen])
    assert result.published is True
    assert HUB in result.evidence and COMMIT in result.evidence
    assert "2026-12-01T04:00:00Z" in result.evidence  # when it was checked
    by_tag = _seen(_info(tags=["text-generation", "license:mit"]))
    assert publication_status(rules, observations=[by_tag]).published is True


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"private": True, "cardData": {"license": "apache-2.0"}}, False),
        ({"gated": "manual", "cardData": {"license": "apache-2.0"}}, False),
        ({"gated": "auto", "cardData": {"license": "mit"}}, False),
        ({"cardData": {"license": "cc-by-nc-4.0"}}, None),
        ({"cardData": {"license": "apache-2.0"}, "tags": ["license:other"]}, None),
        ({}, None),  # no license at all
        ({"private": None, "cardData": {"license": "apache-2.0"}}, None),  # private not stated
    ],
)
def test_hub_facts_that_withhold_publication(
    rules: Ruleset, fields: dict[str, Any], expected: bool | None
) -> None:
    seen = _seen(_info(**fields))
    assert publication_status(rules, observations=[seen]).published is expected


def test_answer_for_another_commit_or_missing_repo_is_no_evidence(rules: Ruleset) -> None:
    other = _seen(_info(sha=OTHER, cardData={"license": "apache-2.0"}))
    assert not other.found
    assert publication_status(rules, observations=[other]).published is None
    missing = _seen(None)
    result = publication_status(rules, licenses=["apache-2.0"], observations=[missing])
    assert result.published is None and "not found" in result.evidence


def test_card_license_alone_is_recorded_as_a_claim(rules: Ruleset) -> None:
    result = publication_status(rules, licenses=["apache-2.0"])
    assert result.published is None
    assert "apache-2.0" in result.evidence and "claim" in result.evidence
    # Nor does the serving source saying "public, ungated" make a card's license evidence.
    assert (
        publication_status(rules, licenses=["apache-2.0"], private=False, gated=False).published
        is None
    )


def test_restrictions_win_over_a_public_source(rules: Ruleset) -> None:
    public = _seen(_info(cardData={"license": "apache-2.0"}))
    assert publication_status(rules, observations=[public], private=True).published is False
    assert publication_status(rules, observations=[public], card_gated=True).published is False
    private_elsewhere = hub_observation(
        _info(private=True), source="https://mirror.example", repo_id="org/model",
        commit=COMMIT, checked_at=NOW,
    )  # fmt: skip
    result = publication_status(rules, observations=[public, private_elsewhere])
    assert result.published is False and "mirror.example" in result.evidence


def test_operator_record_decides(rules: Ruleset) -> None:
    record = PublicationOverride(True, "alice", "https://example.org/release-notes")
    assert publication_status(rules, override=record).published is True
    closed = PublicationOverride(False, "bob", "internal")
    public = _seen(_info(cardData={"license": "apache-2.0"}))
    assert publication_status(rules, override=closed, observations=[public]).published is False


def test_hub_licenses_reads_card_data_and_tags() -> None:
    info = {"cardData": {"license": "other", "license_name": "deepseek"}, "tags": ["license:MIT"]}
    assert hub_licenses(info) == ("deepseek", "MIT")
    assert hub_licenses({"cardData": {"license": ["mit", "MIT"]}}) == ("mit",)
    assert hub_licenses({}) == ()


def test_hub_evidence_goes_stale() -> None:
    seen = _seen(_info())
    assert not is_stale(seen, NOW + timedelta(hours=1), timedelta(days=1))
    assert is_stale(seen, NOW + timedelta(days=2), timedelta(days=1))


def test_observations_fold_into_a_kept_classification(rules: Ruleset) -> None:
    from gate.compute.publication import Publication, with_observations

    claim = publication_status(rules, licenses=["apache-2.0"])
    public = _seen(_info(cardData={"license": "apache-2.0"}))
    folded = with_observations(rules, claim, [public])
    assert folded.published is True and HUB in folded.evidence and "claim" in folded.evidence
    gated = _seen(_info(gated="auto", cardData={"license": "apache-2.0"}))
    assert with_observations(rules, claim, [gated]).published is False
    restricted = Publication(False, "gated access (card)")
    assert with_observations(rules, restricted, [public]) == restricted  # restrictions stay
    missing = with_observations(rules, claim, [_seen(None)])
    assert missing.published is None and "not found" in missing.evidence
    assert with_observations(rules, claim, []) == claim


def test_evidence_holds_only_for_the_same_files(rules: Ruleset) -> None:
    from gate.compute.publication import files_differ, matching, tree_digests

    tree = [
        {"type": "file", "path": "model.safetensors", "oid": "p" * 40,
         "lfs": {"oid": "a" * 64, "size": 10, "pointerSize": 100}},
        {"type": "file", "path": "config.json", "oid": "c" * 40},
        {"type": "directory", "path": "sub", "oid": "d" * 40},
    ]  # fmt: skip
    files = tree_digests(tree)
    assert files == {"model.safetensors": "a" * 64, "config.json": "c" * 40}
    seen = hub_observation(
        _info(cardData={"license": "apache-2.0"}), source=HUB, repo_id="org/model",
        commit=COMMIT, checked_at=NOW, files=files,
    )  # fmt: skip
    same = {"model.safetensors": ("a" * 64, "p" * 40), "config.json": (None, "c" * 40)}
    assert files_differ(seen, same) is None
    assert publication_status(rules, observations=matching([seen], same)).published is True
    other = {**same, "model.safetensors": ("b" * 64, "q" * 40)}
    assert "differs" in (files_differ(seen, other) or "")
    extra = {**same, "extra.bin": ("e" * 64, "f" * 40)}
    assert "not among" in (files_differ(seen, extra) or "")
    for local in (other, extra):
        result = publication_status(rules, observations=matching([seen], local))
        assert result.published is None and "no evidence" in result.evidence
    unlisted = hub_observation(
        _info(), source=HUB, repo_id="org/model", commit=COMMIT, checked_at=NOW
    )
    assert files_differ(unlisted, same) is not None  # no listing, no match
    gated = hub_observation(
        _info(gated="manual"), source=HUB, repo_id="org/model", commit=COMMIT, checked_at=NOW
    )
    assert publication_status(rules, observations=matching([gated], other)).published is False
