"""Turn what a person typed for a country into an ISO 3166-1 alpha-2 code, or say why not.

Accepts alpha-2 and alpha-3 codes, official, common and short names (pycountry's data), the
aliases people actually write (USA, UK, South Korea, Burma, DRC, Macao, Ivory Coast, ...), and
ISO 3166-2 region codes (`UA-43` Crimea), which stay region codes: a ruleset may name a region.
Anything that does not resolve to exactly one country is a CountryError naming the input and the
closest matches; nothing is guessed.

The data is pycountry's own ISO 3166 databases (the iso-codes JSON files it ships), read here
directly: `import pycountry` looks up its distribution's version through importlib.metadata,
which alone costs more than `gate decide`'s whole start-up budget. Lookups are case-insensitive
as pycountry's `get` is; subdivisions (ISO 3166-2, ~0.5 MB) load only when a region code is asked.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from gate.errors import CountryError

# Aliases pycountry does not know, or knows under a different spelling. Keys are normalised
# (see _key). Ambiguous ones ("Korea", "Congo") are deliberately absent: they must be an error.
_ALIASES: dict[str, str] = {
    "usa": "US",
    "us": "US",
    "u s": "US",
    "u s a": "US",
    "america": "US",
    "united states of america": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "south korea": "KR",
    "republic of korea": "KR",
    "korea republic of": "KR",
    "rok": "KR",
    "korea south": "KR",
    "north korea": "KP",
    "dprk": "KP",
    "democratic people s republic of korea": "KP",
    "korea north": "KP",
    "burma": "MM",
    "myanmar": "MM",
    "drc": "CD",
    "dr congo": "CD",
    "democratic republic of the congo": "CD",
    "congo kinshasa": "CD",
    "congo democratic republic": "CD",
    "republic of the congo": "CG",
    "congo brazzaville": "CG",
    "macau": "MO",
    "macao": "MO",
    "taiwan": "TW",
    "republic of china": "TW",
    "chinese taipei": "TW",
    "china": "CN",
    "prc": "CN",
    "people s republic of china": "CN",
    "mainland china": "CN",
    "turkey": "TR",
    "turkiye": "TR",
    "ivory coast": "CI",
    "cote d ivoire": "CI",
    "russia": "RU",
    "russian federation": "RU",
    "iran": "IR",
    "syria": "SY",
    "laos": "LA",
    "vietnam": "VN",
    "viet nam": "VN",
    "venezuela": "VE",
    "bolivia": "BO",
    "tanzania": "TZ",
    "moldova": "MD",
    "czech republic": "CZ",
    "czechia": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "uae": "AE",
    "emirates": "AE",
    "ksa": "SA",
    "vatican": "VA",
    "holy see": "VA",
    "east timor": "TL",
    "cape verde": "CV",
    "swaziland": "SZ",
    "eswatini": "SZ",
    "palestine": "PS",
    "brunei": "BN",
    "micronesia": "FM",
    "hong kong": "HK",
    "north macedonia": "MK",
    "macedonia": "MK",
    "the gambia": "GM",
    "gambia": "GM",
    "the bahamas": "BS",
    "bahamas": "BS",
}

# Names that people use for more than one country: an error, never a guess.
_AMBIGUOUS = frozenset({"congo", "korea", "guinea", "sudan north", "virgin islands"})


def _key(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form used for matching names."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", ascii_only.casefold()).strip()


def _database_file(name: str) -> Path:
    """One of pycountry's ISO database files."""
    spec = find_spec("pycountry")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pycountry is not installed")
    return Path(next(iter(spec.submodule_search_locations)), "databases", name)


@lru_cache(maxsize=1)
def _countries() -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(_database_file("iso3166-1.json").read_bytes())[
        "3166-1"
    ]
    return entries


@lru_cache(maxsize=2)
def _by(key: str) -> dict[str, dict[str, str]]:
    """Countries by the lower-cased value of `key` (alpha_2 or alpha_3)."""
    return {c[key].lower(): c for c in _countries()}


@lru_cache(maxsize=1)
def _subdivision_text() -> bytes:
    return _database_file("iso3166-2.json").read_bytes()


@lru_cache(maxsize=256)
def _subdivision(code: str) -> dict[str, str] | None:
    """The ISO 3166-2 entry for `code` (any case), or None.

    Found by its `"code"` key in the file's text and only that entry decoded: decoding all
    ~5,000 entries would cost a tenth of `gate decide`'s start-up. ISO 3166-2 codes are upper
    case; an entry that does not decode to this code is not found (fail closed).
    """
    text = _subdivision_text()
    wanted = code.upper()
    found = re.search(rb'"code":\s*"' + re.escape(wanted.encode()) + rb'"', text)
    if found is None:
        return None
    start, end = text.rfind(b"{", 0, found.start()), text.find(b"}", found.end())
    try:
        entry: dict[str, str] = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return entry if entry.get("code") == wanted else None


def _country(alpha_2: str) -> dict[str, str] | None:
    return _by("alpha_2").get(alpha_2.lower())


@lru_cache(maxsize=1)
def _name_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in _countries():
        for attr in ("name", "official_name", "common_name"):
            value = country.get(attr)
            if value:
                index[_key(value)] = country["alpha_2"]
    index.update(_ALIASES)
    for name in _AMBIGUOUS:
        index.pop(name, None)
    return index


MAX_COUNTRY_TEXT = 80
"""Longer than any country name or alias: longer input is refused before it is matched or
cached (a 10 MB header would otherwise be kept by the cache and fuzzy-matched by difflib)."""


@lru_cache(maxsize=4096)
def _resolve(text: str) -> str | None:
    stripped = text.strip()
    if "-" in stripped and stripped[:2].isalpha() and stripped[2:3] == "-":
        return _region(stripped.upper())
    if len(stripped) == 2 and stripped.isalpha():
        found = _country(stripped)
        if found is not None:
            return found["alpha_2"]
    if len(stripped) == 3 and stripped.isalpha():
        found = _by("alpha_3").get(stripped.lower())
        if found is not None:
            return found["alpha_2"]
    return _name_index().get(_key(stripped))


def suggestions(text: str, limit: int = 3) -> tuple[str, ...]:
    """The closest country names to `text`, as "Name (CC)"."""
    import difflib  # only an error needs it: not on every start-up

    index = _name_index()
    close = difflib.get_close_matches(_key(text), list(index), n=limit * 3, cutoff=0.6)
    seen: list[str] = []
    for name in close:
        code = index[name]
        label = f"{country_name(code)} ({code})"
        if label not in seen:
            seen.append(label)
    return tuple(seen[:limit])


def normalize_country(text: object, field: str = "country") -> str:
    """The alpha-2 code for `text`; CountryError naming `field` and the input otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise CountryError(field, repr(text) if not isinstance(text, str) else text)
    if len(text) > MAX_COUNTRY_TEXT:
        raise CountryError(field, text)
    code = _resolve(text)
    if code is None:
        raise CountryError(field, text, suggestions(text))
    return code


def _region(code: str) -> str | None:
    found = _subdivision(code)
    return None if found is None else found["code"]


def country_name(code: str) -> str:
    """A readable name for an alpha-2 or region code (the code itself when unknown)."""
    if "-" in code:
        region = _subdivision(code)
        return code if region is None else f"{region['name']}, {country_name(code[:2])}"
    found = _country(code)
    if found is None:
        return code
    return found.get("common_name") or found["name"]


def is_country_code(code: str) -> bool:
    return len(code) == 2 and _country(code) is not None


def is_place_code(code: str) -> bool:
    """An ISO 3166-1 alpha-2 country code or an ISO 3166-2 region code, exactly as written."""
    if is_country_code(code):
        return True
    return "-" in code and code.isupper() and _region(code) == code
