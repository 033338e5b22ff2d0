"""Read a ruleset TOML file strictly and build the core `Ruleset` from it.

Strict means: an unknown key, a missing field, a bad country code, a country in two groups, or a
pattern that is not a string is a RulesetError naming the file, the key and the problem. The
ruleset's sha256 is taken over the canonical JSON of the parsed content, so comments and layout
do not change it and every value does.
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gate.core.canonical import canonical_sha256
from gate.core.ruleset import (
    ComputeRules,
    Designation,
    GroupLabels,
    OpenLicense,
    Provision,
    Ruleset,
    Source,
)
from gate.core.values import Group
from gate.errors import RulesetError
from gate.rules.countries import is_country_code

DEFAULT_RULESET = "ai-diffusion-2025.toml"
REQUIRED_PROVISIONS = (
    "eccn_4e091",
    "published",
    "less_capable",
    "aia",
    "aia_weights",
    "security_conditions",
    "red_flag_28",
    "license_requirement",
    "presumption_of_denial",
    "effective_dates",
    "ear_scope",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Dates(_Strict):
    published: date
    effective: date
    compliance: date
    security_compliance: date
    in_force_until: date | None = None


class _Source(_Strict):
    title: str
    url: str | None = None


class _Threshold(_Strict):
    operations: float = Field(gt=0)


class _Frontier(_Strict):
    published_operations: float | None = Field(default=None, gt=0)


class _Group(_Strict):
    name: str
    tier: str
    article_group: str
    note: str = ""
    countries: list[str] = []

    @field_validator("countries")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not is_country_code(code):
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 code")
        if len(set(value)) != len(value):
            duplicates = sorted({c for c in value if value.count(c) > 1})
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return value


class _Groups(_Strict):
    allied: _Group
    embargoed: _Group
    other: _Group


class _Provision(_Strict):
    citation: str
    title: str


class _ParameterFiles(_Strict):
    patterns: list[str] = Field(min_length=1)
    exceptions: list[str] = []


class _Compute(_Strict):
    max_plausible_tokens: float = Field(gt=0)
    max_plausible_tokens_note: str
    disagreement_factor: float = Field(gt=1)
    implausibly_low_factor: float = Field(gt=0, le=1)


class _Designated(_Strict):
    repo_id: str
    reason: str
    source: str | None = None


class _OpenLicense(_Strict):
    id: str
    note: str


class _RulesetFile(_Strict):
    id: str = Field(min_length=1)
    title: str
    status_note: str
    dates: _Dates
    sources: list[_Source] = Field(min_length=1)
    threshold: _Threshold
    frontier: _Frontier = _Frontier()
    groups: _Groups
    provisions: dict[str, _Provision]
    parameter_files: _ParameterFiles
    compute: _Compute
    designated: list[_Designated] = []
    open_licenses: list[_OpenLicense] = []


def _first_error(path: str, exc: ValidationError) -> RulesetError:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        problem = "unknown key"
    elif kind == "missing":
        problem = "missing"
    else:
        problem = str(error["msg"]).removeprefix("Value error, ")
    return RulesetError(path, key, problem)


def parse_ruleset(data: dict[str, Any], path: str = "<ruleset>") -> Ruleset:
    """Validate parsed TOML and build the Ruleset; RulesetError names key and problem."""
    try:
        parsed = _RulesetFile.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, exc) from None

    allied = frozenset(parsed.groups.allied.countries)
    embargoed = frozenset(parsed.groups.embargoed.countries)
    both = sorted(allied & embargoed)
    if both:
        raise RulesetError(path, "groups", f"in both allied and embargoed: {', '.join(both)}")
    if parsed.groups.other.countries:
        raise RulesetError(
            path, "groups.other.countries", "must be empty: `other` is every unlisted country"
        )
    missing = [key for key in REQUIRED_PROVISIONS if key not in parsed.provisions]
    if missing:
        raise RulesetError(path, "provisions", f"missing: {', '.join(missing)}")
    if parsed.dates.in_force_until and parsed.dates.in_force_until < parsed.dates.compliance:
        raise RulesetError(path, "dates.in_force_until", "is before dates.compliance")

    groups = parsed.groups
    return Ruleset(
        id=parsed.id,
        title=parsed.title,
        sha256=canonical_sha256(data),
        status_note=parsed.status_note.strip(),
        sources=tuple(Source(s.title, s.url) for s in parsed.sources),
        published=parsed.dates.published,
        effective=parsed.dates.effective,
        compliance=parsed.dates.compliance,
        security_compliance=parsed.dates.security_compliance,
        in_force_until=parsed.dates.in_force_until,
        threshold_operations=parsed.threshold.operations,
        published_frontier_operations=parsed.frontier.published_operations,
        allied=allied,
        embargoed=embargoed,
        group_labels={
            Group.ALLIED: GroupLabels(
                groups.allied.name, groups.allied.tier, groups.allied.article_group
            ),
            Group.OTHER: GroupLabels(
                groups.other.name, groups.other.tier, groups.other.article_group
            ),
            Group.EMBARGOED: GroupLabels(
                groups.embargoed.name, groups.embargoed.tier, groups.embargoed.article_group
            ),
        },
        provisions={k: Provision(v.citation, v.title) for k, v in parsed.provisions.items()},
        parameter_patterns=tuple(parsed.parameter_files.patterns),
        non_parameter_patterns=tuple(parsed.parameter_files.exceptions),
        designated=tuple(Designation(d.repo_id, d.reason, d.source) for d in parsed.designated),
        open_licenses=tuple(OpenLicense(o.id, o.note) for o in parsed.open_licenses),
        compute=ComputeRules(
            max_plausible_tokens=parsed.compute.max_plausible_tokens,
            max_plausible_tokens_note=parsed.compute.max_plausible_tokens_note,
            disagreement_factor=parsed.compute.disagreement_factor,
            implausibly_low_factor=parsed.compute.implausibly_low_factor,
        ),
    )


def load_ruleset(path: str | Path) -> Ruleset:
    """Load and validate a ruleset file."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesetError(where, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesetError(where, "", f"cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesetError(where, "", f"not valid TOML: {exc}") from None
    return parse_ruleset(data, where)


def default_ruleset_path() -> Path:
    return Path(str(resources.files("gate.rules").joinpath(DEFAULT_RULESET)))


@lru_cache(maxsize=1)
def load_default_ruleset() -> Ruleset:
    """The ruleset shipped with the gate (loaded once per process)."""
    return load_ruleset(default_ruleset_path())


def resolve_ruleset(path: str | Path | None) -> Ruleset:
    """The ruleset at `path`, or the shipped default when `path` is None."""
    return load_default_ruleset() if path is None else load_ruleset(path)
