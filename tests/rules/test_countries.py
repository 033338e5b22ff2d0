from __future__ import annotations

import pytest

from gate.errors import CountryError
from gate.rules.countries import normalize_country


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("US", "US"),
        ("us", "US"),
        ("USA", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("UK", "GB"),
        ("GBR", "GB"),
        ("United Kingdom", "GB"),
        ("South Korea", "KR"),
        ("Republic of Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("North Korea", "KP"),
        ("Burma", "MM"),
        ("Myanmar", "MM"),
        ("DRC", "CD"),
        ("Democratic Republic of the Congo", "CD"),
        ("Macau", "MO"),
        ("Macao", "MO"),
        ("Taiwan", "TW"),
        ("Turkey", "TR"),
        ("Türkiye", "TR"),
        ("Ivory Coast", "CI"),
        ("Côte d'Ivoire", "CI"),
        ("Russia", "RU"),
        ("Russian Federation", "RU"),
        ("DEU", "DE"),
        ("germany", "DE"),
        ("  France ", "FR"),
        ("Viet Nam", "VN"),
        ("Iran", "IR"),
        ("Czechia", "CZ"),
        ("UAE", "AE"),
    ],
)
def test_accepted_spellings(text: str, code: str) -> None:
    assert normalize_country(text) == code


@pytest.mark.parametrize("text", ["Korea", "Congo", "Atlantis", "", "  ", "XX", "ZZZ", "Germny"])
def test_unknown_or_ambiguous_is_an_error_naming_the_input(text: str) -> None:
    with pytest.raises(CountryError) as caught:
        normalize_country(text, "recipient.headquarters")
    assert caught.value.field == "recipient.headquarters"
    assert text.strip() in str(caught.value) or text.strip() == ""


def test_suggestions_name_close_matches() -> None:
    with pytest.raises(CountryError) as caught:
        normalize_country("Germny")
    assert "Germany (DE)" in caught.value.suggestions


def test_korea_alone_suggests_both_koreas() -> None:
    with pytest.raises(CountryError) as caught:
        normalize_country("Korea")
    joined = " ".join(caught.value.suggestions)
    assert "(KR)" in joined and "(KP)" in joined


def test_non_string_is_an_error() -> None:
    with pytest.raises(CountryError):
        normalize_country(42)
