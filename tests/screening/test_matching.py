"""Parsing the published CSL forms and matching names against them (pure, no database)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from gate.errors import InputError
from gate.screening import DEFAULT_THRESHOLD
from gate.screening.lists import ParsedList, parse_csv, parse_file, parse_json
from gate.screening.matching import ScreeningIndex
from gate.screening.normalize import normalize_name
from gate.screening.status import PartyResult, screening_statuses

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def parsed() -> ParsedList:
    return parse_file("consolidated.json", (DATA / "consolidated.json").read_bytes())


@pytest.fixture(scope="module")
def index(parsed: ParsedList) -> ScreeningIndex:
    return ScreeningIndex(parsed.entries)


def test_json_form_reads_names_aliases_countries_and_the_list_date(parsed: ParsedList) -> None:
    assert len(parsed.entries) == 12
    assert parsed.list_date == date(2026, 11, 27)  # the latest "last_imported" of sources_used
    huawei = next(e for e in parsed.entries if e.uid == "el-huawei-1")
    assert huawei.name == "Huawei Technologies Co., Ltd."
    assert "Huawei" in huawei.alt_names
    assert huawei.countries == ("CN",)
    assert huawei.source.startswith("Entity List")
    bout = next(e for e in parsed.entries if e.uid == "sdn-bout-1")
    assert bout.countries == ("RU",)  # from nationalities: an individual has no address
    assert "Specially Designated Nationals (SDN) - Treasury Department" in parsed.sources


def test_csv_form_gives_the_same_entries_as_the_json_form(parsed: ParsedList) -> None:
    from_csv = parse_file("consolidated.csv", (DATA / "consolidated.csv").read_bytes())
    assert from_csv.list_date is None  # the CSV carries no date: --list-date gives it
    assert from_csv.entries == parsed.entries
    assert [e.hash for e in from_csv.entries] == [e.hash for e in parsed.entries]
    assert from_csv.content_hash == parsed.content_hash
    sber = next(e for e in from_csv.entries if e.uid == "sdn-sberbank-1")
    assert sber.alt_names == ("Sberbank", "ПАО Сбербанк")  # "; "-separated multi-values
    assert sber.programs == ("RUSSIA-EO14024",)


def test_a_changed_entry_has_a_new_hash_and_changes_the_list_hash(parsed: ParsedList) -> None:
    doc = json.loads((DATA / "consolidated.json").read_text())
    doc["results"][0]["alt_names"].append("Huawei Device Co.")
    changed = parse_json(json.dumps(doc))
    assert changed.entries[0].uid == parsed.entries[0].uid
    assert changed.entries[0].hash != parsed.entries[0].hash
    assert [e.hash for e in changed.entries[1:]] == [e.hash for e in parsed.entries[1:]]
    assert changed.content_hash != parsed.content_hash


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"results": [{"id": "x"}]}', "without a name"),
        ('{"rows": []}', '"results" list'),
        ('{"results": []}', "no entries"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_json_is_an_input_error(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_json(text)


def test_a_csv_without_the_published_columns_is_refused() -> None:
    with pytest.raises(InputError, match="missing columns"):
        parse_csv("name,country\nHuawei,CN\n")


def test_two_different_entries_with_one_id_are_refused() -> None:
    doc = {"results": [{"id": "1", "name": "Alpha Ltd"}, {"id": "1", "name": "Beta Ltd"}]}
    with pytest.raises(InputError, match="share the id"):
        parse_json(json.dumps(doc))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Huawei Technologies Co., Ltd.", "HUAWEI TECHNOLOGIES LIMITED"),
        ("Corporación Cimex S.A.", "corporacion cimex"),
        ("Müller GmbH & Co. KG", "Muller"),
        ("АО «Рособоронэкспорт»", "Rosoboroneksport"),  # noqa: RUF001 (Cyrillic on purpose)
        ("Rosoboronexport", "Rosoboroneksport JSC"),
        ("Public Joint Stock Company Sberbank of Russia", "Sberbank Russia PJSC"),
        ("The Boeing Company", "Boeing"),
    ],
)
def test_normalisation_folds_case_diacritics_script_and_legal_forms(a: str, b: str) -> None:
    assert normalize_name(a) == normalize_name(b)


def test_a_name_of_legal_forms_only_is_kept() -> None:
    assert normalize_name("OOO") == "ooo"


@pytest.mark.parametrize(
    ("name", "country", "uid"),
    [
        ("HUAWEI TECHNOLOGIES CO LTD", None, "el-huawei-1"),  # case, suffix
        ("Technologies Huawei Co.", None, "el-huawei-1"),  # token order
        ("huawei technologies limited", "CN", "el-huawei-1"),
        ("Huawei Technologies Düsseldorf GmbH", "DE", "el-huawei-1"),  # contains the name
        ("Huawai Technologies", None, "el-huawei-1"),  # a typo
        ("SMIC", None, "el-smic-1"),  # alias
        ("Semiconductor Manufacturing International Corp.", "CN", "el-smic-1"),
        ("Hikvision Digital Technology Hangzhou", None, "el-hikvision-1"),
        ("Rosoboroneksport AO", "RU", "sdn-rosoboronexport-1"),  # transliteration
        ("Рособоронэкспорт", None, "sdn-rosoboronexport-1"),  # Cyrillic alias
        ("Corporacion Cimex SA", None, "sdn-cimex-1"),  # diacritics
        ("CIMEX", "CU", "sdn-cimex-1"),
        ("Sberbank of Russia PJSC", None, "sdn-sberbank-1"),
        ("Victor Bout", None, "sdn-bout-1"),  # individual's alias, order
        ("Bank Melli", "IR", "sdn-bank-melli-1"),
        ("Korea Mining Development Trading Corp", None, "sdn-komid-1"),
        ("Aviastar-SP JSC", "RU", "meu-aviastar-1"),
    ],
)
def test_the_fixture_names_match_their_variants(
    index: ScreeningIndex, name: str, country: str | None, uid: str
) -> None:
    hits = index.screen(name, country, threshold=DEFAULT_THRESHOLD)
    assert hits, f"{name!r} matched nothing"
    assert hits[0].entry.uid == uid
    assert hits[0].score >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("name", "country"),
    [
        ("Bank Mellat", "IR"),
        ("Huawei Cloud Solutions Ltd", "CN"),
        ("Semiconductor Manufacturing Services Inc", "CN"),
        ("Hikvision Security Distributors BV", "NL"),
        ("Korea Development Bank", "KR"),
        ("Sber Consulting GmbH", "DE"),
        ("Mining Development Corp", "US"),
        ("Tianjin Center", "CN"),
        ("Aviastar Holdings", "US"),
        ("Revolutionary Guard Security Services", "US"),
        ("Boutique Viktoria", "FR"),
        ("Cimex Logistics Ltd", "GB"),
        ("International Corporation", None),
        ("Ltd", None),
        ("", None),
    ],
)
def test_near_misses_stay_below_the_threshold(
    index: ScreeningIndex, name: str, country: str | None
) -> None:
    assert index.screen(name, country, threshold=DEFAULT_THRESHOLD) == []


def test_country_agreement_raises_the_score(index: ScreeningIndex) -> None:
    elsewhere = index.screen("Viktor Bout", "US", threshold=50)[0]
    at_home = index.screen("Viktor Bout", "RU", threshold=50)[0]
    assert at_home.country_agrees and not elsewhere.country_agrees
    assert at_home.score > elsewhere.score


def test_a_lower_threshold_finds_more(index: ScreeningIndex) -> None:
    assert index.screen("Korea Development Bank", "KR", threshold=DEFAULT_THRESHOLD) == []
    assert index.screen("Korea Development Bank", "KR", threshold=50)


def _row(party: str, name: str, country: str | None, status: str) -> PartyResult:
    return PartyResult(party, name, country, status)  # type: ignore[arg-type]


def test_statuses_worst_per_party_and_none_when_never_screened() -> None:
    rows = [
        _row("recipient", "Acme Ltd", "DE", "clear"),
        _row("recipient", "Acme Ltd", "DE", "possible_match"),
        _row("parent", "Acme Holding", "US", "match"),
    ]
    common = {"name": "ACME Limited", "headquarters": "DE"}
    assert screening_statuses(
        rows, **common, parent_kind="party", parent_name="Acme Holding", parent_headquarters="US"
    ) == ("possible_match", "match")
    assert screening_statuses(
        rows, **common, parent_kind="self", parent_name=None, parent_headquarters=None
    ) == ("possible_match", "possible_match")
    assert screening_statuses(
        rows, **common, parent_kind="unknown", parent_name=None, parent_headquarters=None
    ) == ("possible_match", None)
    assert screening_statuses(
        [], **common, parent_kind="self", parent_name=None, parent_headquarters=None
    ) == (None, None)


def test_a_result_for_another_name_or_country_says_nothing() -> None:
    rows = [_row("recipient", "Acme Ltd", "DE", "clear")]
    renamed = screening_statuses(
        rows,
        name="Acme Rocket Works",
        headquarters="DE",
        parent_kind="unknown",
        parent_name=None,
        parent_headquarters=None,
    )
    moved = screening_statuses(
        rows,
        name="Acme Ltd",
        headquarters="IR",
        parent_kind="unknown",
        parent_name=None,
        parent_headquarters=None,
    )
    assert renamed == (None, None)
    assert moved == (None, None)
