"""The US Consolidated Screening List (trade.gov CSL) as published: JSON and CSV forms.

JSON: `{"results": [{"id", "name", "alt_names", "addresses": [{"address", "city", "state",
"postal_code", "country"}], "source", "programs", "type", "start_date", ...}], "sources_used":
[{"source", "source_last_updated", "last_imported"}]}` (the search API's fields). CSV: the columns
trade.gov publishes (`_id,source,entity_number,type,programs,name,...,alt_names,citizenships,...`)
with multiple values separated by `; `. Both become `ListEntry` values; each entry has a hash of
its content, and the list a hash of its entries, so a changed entry and an unchanged list are
both recognised.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gate.core.canonical import canonical_json
from gate.errors import CountryError, InputError
from gate.rules.countries import normalize_country

DEFAULT_SOURCE = "US Consolidated Screening List"

CSV_COLUMNS = [
    "_id",
    "source",
    "entity_number",
    "type",
    "programs",
    "name",
    "title",
    "addresses",
    "federal_register_notice",
    "start_date",
    "end_date",
    "standard_order",
    "license_requirement",
    "license_policy",
    "call_sign",
    "vessel_type",
    "gross_tonnage",
    "gross_registered_tonnage",
    "vessel_flag",
    "vessel_owner",
    "remarks",
    "source_list_url",
    "alt_names",
    "citizenships",
    "dates_of_birth",
    "nationalities",
    "places_of_birth",
    "source_information_url",
    "ids",
]
_REQUIRED_CSV = {"_id", "source", "name", "alt_names", "addresses"}


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One listed party. `uid` is the list's own id for it; `countries` are alpha-2 codes from
    its addresses, nationalities and citizenships."""

    uid: str
    name: str
    alt_names: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    source: str = ""
    type: str = ""
    programs: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    start_date: str | None = None
    end_date: str | None = None
    federal_register_notice: str | None = None
    remarks: str | None = None
    source_list_url: str | None = None
    hash: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "name": self.name,
            "alt_names": list(self.alt_names),
            "countries": list(self.countries),
            "source": self.source,
            "type": self.type,
            "programs": list(self.programs),
            "addresses": list(self.addresses),
            "start_date": self.start_date,
            "end_date": self.end_date,
            "federal_register_notice": self.federal_register_notice,
            "remarks": self.remarks,
            "source_list_url": self.source_list_url,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListEntry:
        entry = cls(
            uid=str(data["uid"]),
            name=str(data["name"]),
            alt_names=tuple(data.get("alt_names") or ()),
            countries=tuple(data.get("countries") or ()),
            source=str(data.get("source") or ""),
            type=str(data.get("type") or ""),
            programs=tuple(data.get("programs") or ()),
            addresses=tuple(data.get("addresses") or ()),
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
            federal_register_notice=data.get("federal_register_notice"),
            remarks=data.get("remarks"),
            source_list_url=data.get("source_list_url"),
        )
        return entry.with_hash()

    def with_hash(self) -> ListEntry:
        digest = hashlib.sha256(canonical_json(self.to_dict())).hexdigest()
        return ListEntry(**{**_fields(self), "hash": digest})

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.alt_names)


def _fields(entry: ListEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in ListEntry.__slots__ if name != "hash"}


@dataclass(frozen=True, slots=True)
class ParsedList:
    entries: tuple[ListEntry, ...]
    list_date: date | None
    content_hash: str
    sources: tuple[str, ...]


def content_hash(entries: Iterable[ListEntry]) -> str:
    """The list's hash: over its entries' hashes in sorted order (file layout does not count)."""
    digest = hashlib.sha256()
    for entry_hash in sorted({e.hash for e in entries}):
        digest.update(entry_hash.encode("ascii"))
    return digest.hexdigest()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _many(value: Any, sep: str = ";") -> tuple[str, ...]:
    """A list field: a JSON list, or a `; `-separated string; blanks dropped, order kept."""
    if value is None:
        return ()
    items: Iterable[Any] = value if isinstance(value, list | tuple) else str(value).split(sep)
    out: list[str] = []
    for item in items:
        text = _text(item if not isinstance(item, Mapping) else item.get("name"))
        if text is not None and text not in out:
            out.append(text)
    return tuple(out)


def _country(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return normalize_country(text)
    except CountryError:
        return None


def _entry(
    uid: Any,
    name: Any,
    *,
    alt_names: tuple[str, ...],
    countries: Iterable[str | None],
    addresses: tuple[str, ...],
    source: Any,
    type_: Any,
    programs: tuple[str, ...],
    rest: Mapping[str, Any],
    where: str,
) -> ListEntry:
    clean_name = _text(name)
    if clean_name is None:
        raise InputError(where, "an entry without a name")
    clean_uid = _text(uid)
    if clean_uid is None:
        fallback = canonical_json({"source": _text(source), "name": clean_name})
        clean_uid = "sha256:" + hashlib.sha256(fallback).hexdigest()[:32]
    return ListEntry(
        uid=clean_uid,
        name=clean_name,
        alt_names=tuple(a for a in alt_names if a != clean_name),
        countries=tuple(sorted({c for c in countries if c})),
        source=_text(source) or "",
        type=_text(type_) or "",
        programs=programs,
        addresses=addresses,
        start_date=_text(rest.get("start_date")),
        end_date=_text(rest.get("end_date")),
        federal_register_notice=_text(rest.get("federal_register_notice")),
        remarks=_text(rest.get("remarks")),
        source_list_url=_text(rest.get("source_list_url")),
    ).with_hash()


def _json_address(item: Any) -> tuple[str, str | None]:
    if not isinstance(item, Mapping):
        return str(item), None
    parts = [_text(item.get(k)) for k in ("address", "city", "state", "postal_code", "country")]
    return ", ".join(p for p in parts if p), _country(item.get("country"))


def _json_date(data: Mapping[str, Any]) -> date | None:
    candidates: list[str] = []
    for key in ("list_date", "last_updated", "date"):
        if isinstance(data.get(key), str):
            candidates.append(data[key])
    for used in data.get("sources_used") or ():
        if isinstance(used, Mapping):
            for key in ("source_last_updated", "last_imported", "last_updated"):
                if isinstance(used.get(key), str):
                    candidates.append(used[key])
    days = []
    for text in candidates:
        try:
            days.append(date.fromisoformat(text.strip()[:10]))
        except ValueError:
            continue
    return max(days) if days else None


def parse_json(text: str) -> ParsedList:
    """The CSL's JSON form (a `results` list, or a bare list of entries)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("file", f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    results = data.get("results") if isinstance(data, Mapping) else data
    if not isinstance(results, list):
        raise InputError("file", 'expected a JSON object with a "results" list')
    entries = []
    for i, item in enumerate(results):
        where = f"results[{i}]"
        if not isinstance(item, Mapping):
            raise InputError(where, "expected an object")
        addresses = [_json_address(a) for a in item.get("addresses") or ()]
        countries = [c for _, c in addresses]
        for key in ("nationalities", "citizenships"):
            countries.extend(_country(c) for c in _many(item.get(key)))
        entries.append(
            _entry(
                item.get("id", item.get("_id")),
                item.get("name"),
                alt_names=_many(item.get("alt_names")),
                countries=countries,
                addresses=tuple(a for a, _ in addresses if a),
                source=item.get("source"),
                type_=item.get("type"),
                programs=_many(item.get("programs")),
                rest=item,
                where=where,
            )
        )
    date_ = _json_date(data) if isinstance(data, Mapping) else None
    return _parsed(entries, date_)


def _csv_address_country(address: str) -> str | None:
    """The published CSV writes an address as `street, city, state, postal code, CC`."""
    return _country(address.rsplit(",", 1)[-1])


def parse_csv(text: str) -> ParsedList:
    """The CSL's CSV form, columns as published, multi-values separated by `; `."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = set(reader.fieldnames or ())
    missing = _REQUIRED_CSV - header
    if missing:
        raise InputError("file", f"not the CSL CSV layout: missing columns {sorted(missing)}")
    entries = []
    for line, row in enumerate(reader, start=2):
        addresses = _many(row.get("addresses"))
        countries: list[str | None] = [_csv_address_country(a) for a in addresses]
        for key in ("nationalities", "citizenships"):
            countries.extend(_country(c) for c in _many(row.get(key)))
        entries.append(
            _entry(
                row.get("_id"),
                row.get("name"),
                alt_names=_many(row.get("alt_names")),
                countries=countries,
                addresses=addresses,
                source=row.get("source"),
                type_=row.get("type"),
                programs=_many(row.get("programs")),
                rest=row,
                where=f"line {line}",
            )
        )
    return _parsed(entries, None)


def _parsed(entries: Sequence[ListEntry], list_date: date | None) -> ParsedList:
    if not entries:
        raise InputError("file", "the list has no entries")
    unique: dict[str, ListEntry] = {}
    for entry in entries:
        previous = unique.get(entry.uid)
        if previous is not None and previous.hash != entry.hash:
            raise InputError("file", f"two different entries share the id {entry.uid!r}")
        unique[entry.uid] = entry
    kept = tuple(unique.values())
    sources = tuple(sorted({e.source for e in kept if e.source}))
    return ParsedList(kept, list_date, content_hash(kept), sources)


def parse_file(name: str, data: bytes) -> ParsedList:
    """Parse by content: JSON when it starts with `{` or `[`, the CSV layout otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("file", "not UTF-8 text") from None
    if text.lstrip()[:1] in ("{", "["):
        return parse_json(text)
    if name.lower().endswith(".json"):
        raise InputError("file", "not valid JSON")
    return parse_csv(text)
