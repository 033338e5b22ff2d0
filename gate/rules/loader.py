"""Read ruleset TOML files strictly and build the core rulesets (and sets of them) from them.

Strict means: an unknown key, a missing field, a bad country code, a country in two groups, or a
pattern that is not a string is a RulesetError naming the file, the key and the problem. The
ruleset's sha256 is taken over the canonical JSON of the parsed content, so comments and layout
do not change it and every value does. The file's `procedure` key says which procedure reads it:
"4e091" (the default: RULES.md's decision procedure) or "ear-embargoes" (its "Beyond 4E091").
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic_core import core_schema as cs

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
from gate.core.ruleset_set import AnyRuleset, RulesetSet
from gate.core.values import Group
from gate.errors import RulesetError
from gate.rules.countries import is_country_code
from gate.rules.embargo_loader import parse_embargo_ruleset
from gate.rules.parts import (
    DAY,
    PARAMETER_FILES,
    PLACES,
    PROVISIONS,
    SOURCES,
    TEXT,
    TEXTS,
    file_rules,
    first_error,
)
from gate.rules.shape import ValidationError, checked, field, record, validator

DEFAULT_RULESET = "ai-diffusion-2025.toml"
SHIPPED_SET = ("ai-diffusion-2025.toml", "ear-embargoes.toml")
"""The shipped ruleset set, in order: the first ruleset names the basis between equal verdicts."""
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
    "domestic_transfer",
)


def _territories(value: list[str]) -> list[str]:
    for code in value:
        if not is_country_code(code):
            raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 code")
    return value


_GROUP = record(
    "_Group",
    {
        "name": field(TEXT),
        "tier": field(TEXT),
        "article_group": field(TEXT),
        "note": field(TEXT, ""),
        "countries": field(PLACES, factory=list),
    },
)
_RULESET_FILE = validator(
    record(
        "_RulesetFile",
        {
            "id": field(cs.str_schema(min_length=1)),
            "procedure": field(cs.literal_schema(["4e091"]), "4e091"),
            "title": field(TEXT),
            "status_note": field(TEXT),
            "dates": field(
                record(
                    "_Dates",
                    {
                        "published": field(DAY),
                        "effective": field(DAY),
                        "compliance": field(DAY),
                        "security_compliance": field(DAY),
                        "in_force_until": field(cs.nullable_schema(DAY), None),
                    },
                )
            ),
            "sources": field(SOURCES),
            "threshold": field(
                record(
                    "_Threshold", {"operations": field(cs.float_schema(gt=0, allow_inf_nan=False))}
                )
            ),
            "frontier": field(
                record(
                    "_Frontier",
                    {
                        "published_operations": field(
                            cs.nullable_schema(cs.float_schema(gt=0, allow_inf_nan=False)), None
                        )
                    },
                ),
                None,
            ),
            "groups": field(
                record(
                    "_Groups",
                    {"allied": field(_GROUP), "embargoed": field(_GROUP), "other": field(_GROUP)},
                )
            ),
            "united_states": field(
                record(
                    "_UnitedStates",
                    {"territories": field(checked(_territories, TEXTS), factory=list)},
                ),
                None,
            ),
            "provisions": field(PROVISIONS),
            "parameter_files": field(PARAMETER_FILES),
            "compute": field(
                record(
                    "_Compute",
                    {
                        "max_plausible_tokens": field(cs.float_schema(gt=0, allow_inf_nan=False)),
                        "max_plausible_tokens_note": field(TEXT),
                        "disagreement_factor": field(cs.float_schema(gt=1, allow_inf_nan=False)),
                        "implausibly_low_factor": field(
                            cs.float_schema(gt=0, le=1, allow_inf_nan=False)
                        ),
                    },
                )
            ),
            "designated": field(
                cs.list_schema(
                    record(
                        "_Designated",
                        {
                            "repo_id": field(TEXT),
                            "reason": field(TEXT),
                            "source": field(cs.nullable_schema(TEXT), None),
                        },
                    )
                ),
                factory=list,
            ),
            "open_licenses": field(
                cs.list_schema(record("_OpenLicense", {"id": field(TEXT), "note": field(TEXT)})),
                factory=list,
            ),
        },
    )
)


def parse_any_ruleset(data: dict[str, Any], path: str = "<ruleset>") -> AnyRuleset:
    """Validate parsed TOML of either kind (by its `procedure` key) and build the ruleset."""
    if data.get("procedure") == "ear-embargoes":
        return parse_embargo_ruleset(data, path)
    return parse_ruleset(data, path)


def parse_ruleset(data: dict[str, Any], path: str = "<ruleset>") -> Ruleset:
    """Validate parsed TOML and build the 4E091 Ruleset; RulesetError names key and problem."""
    try:
        parsed = _RULESET_FILE(data)
    except ValidationError as exc:
        raise first_error(path, exc) from None

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
        published_frontier_operations=None
        if parsed.frontier is None
        else parsed.frontier.published_operations,
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
        files=file_rules(parsed.parameter_files),
        us_territories=frozenset(
            () if parsed.united_states is None else parsed.united_states.territories
        ),
        designated=tuple(Designation(d.repo_id, d.reason, d.source) for d in parsed.designated),
        open_licenses=tuple(OpenLicense(o.id, o.note) for o in parsed.open_licenses),
        compute=ComputeRules(
            max_plausible_tokens=parsed.compute.max_plausible_tokens,
            max_plausible_tokens_note=parsed.compute.max_plausible_tokens_note,
            disagreement_factor=parsed.compute.disagreement_factor,
            implausibly_low_factor=parsed.compute.implausibly_low_factor,
        ),
    )


def _read(path: str | Path) -> dict[str, Any]:
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesetError(where, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesetError(where, "", f"cannot read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesetError(where, "", f"not valid TOML: {exc}") from None


def load_ruleset(path: str | Path) -> Ruleset:
    """Load and validate a 4E091 ruleset file."""
    data = _read(path)
    if data.get("procedure") == "ear-embargoes":
        raise RulesetError(str(path), "procedure", "an ear-embargoes ruleset, expected 4e091")
    return parse_ruleset(data, str(path))


def load_any_ruleset(path: str | Path) -> AnyRuleset:
    """Load and validate a ruleset file of either kind."""
    return parse_any_ruleset(_read(path), str(path))


_HERE = Path(__file__).parent
"""The shipped ruleset files sit next to this module (package data; importlib.resources would
cost a tenth of `gate decide`'s start-up to say the same)."""


def default_ruleset_path() -> Path:
    return _HERE / DEFAULT_RULESET


def shipped_ruleset_paths() -> tuple[Path, ...]:
    """The files of the shipped set, in order."""
    return tuple(_HERE / n for n in SHIPPED_SET)


@lru_cache(maxsize=1)
def load_default_ruleset() -> Ruleset:
    """The shipped 4E091 ruleset (loaded once per process)."""
    return load_ruleset(default_ruleset_path())


@lru_cache(maxsize=1)
def load_shipped_set() -> RulesetSet:
    """The shipped set, `ai-diffusion-2025` then `ear-embargoes` (loaded once per process)."""
    default = load_default_ruleset()
    rest = tuple(load_any_ruleset(p) for p in shipped_ruleset_paths()[1:])
    return RulesetSet((default, *rest))


def load_ruleset_set(paths: Sequence[str | Path] | None) -> RulesetSet:
    """The rulesets at `paths`, in order, as a set; the shipped set when `paths` is None or empty.

    RulesetError when a file is invalid or two files carry the same id.
    """
    if not paths:
        return load_shipped_set()
    rulesets = [load_any_ruleset(p) for p in paths]
    seen: dict[str, str] = {}
    for path, ruleset in zip(paths, rulesets, strict=True):
        if ruleset.id in seen:
            raise RulesetError(
                str(path), "id", f"{ruleset.id!r} is also the id of {seen[ruleset.id]}"
            )
        seen[ruleset.id] = str(path)
    return RulesetSet(tuple(rulesets))


def resolve_ruleset(path: str | Path | None) -> Ruleset:
    """The 4E091 ruleset at `path`, or the shipped default when `path` is None."""
    return load_default_ruleset() if path is None else load_ruleset(path)
