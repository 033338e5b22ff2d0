"""The ruleset loader: the shipped ruleset's content, and strict errors for broken ones."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.core.embargoes import EmbargoRuleset
from gate.core.values import Group
from gate.errors import RulesetError
from gate.rules.loader import (
    default_ruleset_path,
    load_any_ruleset,
    load_default_ruleset,
    load_ruleset,
    load_ruleset_set,
    shipped_ruleset_paths,
)

SHIPPED = default_ruleset_path().read_text()
EMBARGOES_PATH = shipped_ruleset_paths()[1]
EMBARGOES = EMBARGOES_PATH.read_text()


def test_shipped_ruleset_matches_rules_md() -> None:
    rules = load_default_ruleset()
    assert rules.id == "ai-diffusion-2025"
    assert rules.threshold_operations == 1e26
    assert len(rules.allied) == 19 and "US" in rules.allied and "TW" in rules.allied
    assert len(rules.embargoed) == 26 and {"CN", "MO", "CY", "RU", "HK"} <= rules.embargoed
    assert rules.us_territories == {"PR", "GU", "VI", "AS", "MP", "UM"}
    assert rules.group_of("BR") is Group.OTHER
    assert rules.group_of("HK") is Group.EMBARGOED
    assert rules.group_of("PR") is Group.ALLIED and rules.is_domestic("PR")
    assert rules.cite("domestic_transfer").startswith("15 CFR 772.1")
    assert rules.files.safetensors_metadata_max_bytes == 65536
    assert rules.group_labels[Group.ALLIED].tier == "Tier 1"
    assert rules.group_labels[Group.EMBARGOED].article_group == "Group 2"
    assert rules.published_frontier_operations is None
    assert str(rules.compliance) == "2025-05-15"
    assert str(rules.security_compliance) == "2026-01-15"
    assert "2025-05-13" in rules.status_note
    assert rules.cite("aia_weights") == "15 CFR 740.27(a)(3)"
    assert len(rules.sha256) == 64


def test_hash_ignores_comments_and_layout_but_not_values(tmp_path: Path) -> None:
    reformatted = tmp_path / "same.toml"
    reformatted.write_text("# a comment\n" + SHIPPED.replace(" = ", "  =  "))
    assert load_ruleset(reformatted).sha256 == load_default_ruleset().sha256
    amended = tmp_path / "amended.toml"
    amended.write_text(SHIPPED.replace("operations = 1e26", "operations = 5e25"))
    assert load_ruleset(amended).sha256 != load_default_ruleset().sha256


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (lambda s: "surprise = 1\n" + s, "surprise", "unknown key"),
        (lambda s: s.replace("[compute]", "[compute]\nspeed = 1"), "compute.speed", "unknown key"),
        (lambda s: s.replace('id = "ai-diffusion-2025"', ""), "id", "missing"),
        (lambda s: s.replace('"US", "AU"', '"XX", "AU"'), "groups.allied.countries", "XX"),
        (lambda s: s.replace('"US", "AU"', '"US", "CN", "AU"'), "groups", "CN"),
        (
            lambda s: s.replace('"US", "AU"', '"US", "US", "AU"'),
            "groups.allied.countries",
            "more than once",
        ),
        (
            lambda s: s.replace("operations = 1e26", "operations = -1"),
            "threshold.operations",
            "greater than 0",
        ),
        (
            lambda s: s.replace("operations = 1e26", "operations = inf"),
            "threshold.operations",
            "finite",
        ),
        (
            lambda s: s.replace("operations = 1e26", "operations = nan"),
            "threshold.operations",
            "finite",
        ),
        (
            lambda s: s.replace("compliance = 2025-05-15", 'compliance = "soon"'),
            "dates.compliance",
            "date",
        ),
        (lambda s: s.replace("eccn_4e091 = ", "eccn_renamed = "), "provisions", "eccn_4e091"),
        (
            lambda s: s.replace(
                'note = "Every country in neither list above"', 'note = "x"\ncountries = ["BR"]'
            ),
            "groups.other.countries",
            "must be empty",
        ),
    ],
)
def test_errors_name_file_key_and_problem(tmp_path: Path, edit, key: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, edit(SHIPPED))
    with pytest.raises(RulesetError) as caught:
        load_ruleset(path)
    err = caught.value
    assert err.path == str(path)
    assert err.key.startswith(key), err
    assert problem in err.problem, err


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match="not valid TOML"):
        load_ruleset(write(tmp_path, "id = "))
    with pytest.raises(RulesetError, match="no such file"):
        load_ruleset(tmp_path / "nope.toml")


def test_shipped_file_is_plain_toml() -> None:
    assert tomllib.loads(SHIPPED)["id"] == "ai-diffusion-2025"


def test_shipped_embargo_ruleset_matches_rules_md() -> None:
    rules = load_any_ruleset(EMBARGOES_PATH)
    assert isinstance(rules, EmbargoRuleset)
    assert rules.id == "ear-embargoes"
    assert rules.embargoed == {
        "CU",
        "IR",
        "KP",
        "SY",
        "UA-43",
        "UA-40",
        "UA-14",
        "UA-09",
        "RU",
        "BY",
    }
    assert rules.block_published is False and rules.require_screening is False
    assert rules.embargoed_place("UA-43") and rules.embargoed_place("IR-23")
    assert not rules.embargoed_place("UA-30") and not rules.embargoed_place("CN")
    assert len(rules.sources) >= 2 and str(rules.effective) == "2025-06-01"


def test_shipped_rulesets_share_one_file_test() -> None:
    # Both procedures' step "not parameters" must read the same lists, or the set would let a
    # file through under one and not the other.
    ai, embargoes = load_ruleset_set(None)
    assert ai.files == embargoes.files


def test_set_loader_default_order_and_duplicate_ids(tmp_path: Path) -> None:
    assert load_ruleset_set(None).ids == ("ai-diffusion-2025", "ear-embargoes")
    assert load_ruleset_set([EMBARGOES_PATH]).ids == ("ear-embargoes",)
    copy = tmp_path / "copy.toml"
    copy.write_text(SHIPPED)
    with pytest.raises(RulesetError, match="also the id of"):
        load_ruleset_set([default_ruleset_path(), copy])
    # A 4E091-only entry point refuses an embargo ruleset rather than misreading it.
    with pytest.raises(RulesetError, match="ear-embargoes"):
        load_ruleset(EMBARGOES_PATH)


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (lambda s: s.replace('"UA-43", ', '"UA-99", '), "embargoed.places", "UA-99"),
        (lambda s: s.replace('"CU", ', '"CU", "CU", '), "embargoed.places", "more than once"),
        (
            lambda s: s.replace("block_published = false", "block_published = 1"),
            "block_published",
            "",
        ),
        (
            lambda s: s.replace("restricted_parties = ", "renamed = "),
            "provisions",
            "restricted_parties",
        ),
        (
            lambda s: s.replace("[embargoed]", "[embargoed]\nextra = 1"),
            "embargoed.extra",
            "unknown key",
        ),
        (
            lambda s: s.replace("max_non_parameter_bytes = 67108864", ""),
            "parameter_files.max_non_parameter_bytes",
            "missing",
        ),
        (
            lambda s: s.replace('"89504e470d0a1a0a"', '"zz"'),
            "parameter_files.not_parameters.images.signatures",
            "hex",
        ),
    ],
)
def test_embargo_errors_name_file_key_and_problem(
    tmp_path: Path, edit: Callable[[str], str], key: str, problem: str
) -> None:
    path = write(tmp_path, edit(EMBARGOES))
    with pytest.raises(RulesetError) as caught:
        load_any_ruleset(path)
    err = caught.value
    assert err.key.startswith(key), err
    assert problem in err.problem, err


def test_old_name_list_format_is_refused(tmp_path: Path) -> None:
    # The old format listed parameter names with exceptions: open by default to unknown names.
    old = SHIPPED.replace("[parameter_files]", '[parameter_files]\npatterns = ["*.bin"]')
    with pytest.raises(RulesetError) as caught:
        load_ruleset(write(tmp_path, old))
    assert caught.value.key == "parameter_files.patterns"
