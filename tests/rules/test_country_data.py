"""gate.rules.countries reads pycountry's ISO databases itself: it must agree with pycountry's API.

The module opens pycountry's JSON files directly (importing pycountry costs more than the CLI's
start-up budget), so these tests hold it to what pycountry's own lookups answer, for every
country and every subdivision: a change in pycountry's data layout fails here.
"""

from __future__ import annotations

import pycountry
import pytest

from gate.errors import CountryError
from gate.rules.countries import country_name, is_country_code, is_place_code, normalize_country

COUNTRIES = list(pycountry.countries)
SUBDIVISIONS = list(pycountry.subdivisions)


def test_every_country_code_and_name_agrees_with_pycountry() -> None:
    assert len(COUNTRIES) > 240
    for country in COUNTRIES:
        code = country.alpha_2
        assert is_country_code(code) and is_country_code(code.lower())
        assert is_place_code(code)
        assert normalize_country(code.lower()) == code
        assert normalize_country(country.alpha_3) == code
        expected = getattr(country, "common_name", None) or country.name
        assert country_name(code) == expected


def test_every_subdivision_agrees_with_pycountry() -> None:
    assert len(SUBDIVISIONS) > 4000
    for region in SUBDIVISIONS:
        code = region.code
        assert is_place_code(code), code
        assert normalize_country(code.lower(), "where") == code
        parent = pycountry.countries.get(alpha_2=code.split("-")[0])
        country = getattr(parent, "common_name", None) or parent.name if parent else code[:2]
        assert country_name(code) == f"{region.name}, {country}"


@pytest.mark.parametrize("code", ["XX", "ZZ", "UK", "EU", "A1", "U", "USA", ""])
def test_codes_pycountry_does_not_know_are_not_countries(code: str) -> None:
    assert pycountry.countries.get(alpha_2=code) is None or len(code) != 2
    assert not is_country_code(code)
    assert country_name(code) == code


@pytest.mark.parametrize("code", ["UA-99", "US-ZZ", "ua-43", "XX-01", "UA-"])
def test_regions_pycountry_does_not_know_or_not_upper_case_are_not_places(code: str) -> None:
    assert not is_place_code(code)


def test_an_unknown_region_is_an_error_naming_the_field() -> None:
    with pytest.raises(CountryError, match="destination: unknown or ambiguous country 'UA-99'"):
        normalize_country("UA-99", "destination")
