"""Read an `ear-embargoes` ruleset (RULES.md "Beyond 4E091") strictly into the core's value."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, StrictBool, ValidationError, field_validator

from gate.core.canonical import canonical_sha256
from gate.core.embargoes import EMBARGO_PROVISIONS, EmbargoRuleset
from gate.core.ruleset import Provision, Source
from gate.errors import RulesetError
from gate.rules.parts import (
    ParameterFilesIn,
    ProvisionIn,
    SourceIn,
    Strict,
    check_places,
    first_error,
)


class _Dates(Strict):
    effective: date


class _Embargoed(Strict):
    note: str = ""
    places: list[str] = Field(min_length=1)

    @field_validator("places")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        return check_places(value)


class _EmbargoFile(Strict):
    id: str = Field(min_length=1)
    procedure: Literal["ear-embargoes"]
    title: str
    status_note: str
    block_published: StrictBool = False
    require_screening: StrictBool = False
    dates: _Dates
    sources: list[SourceIn] = Field(min_length=1)
    embargoed: _Embargoed
    provisions: dict[str, ProvisionIn]
    parameter_files: ParameterFilesIn


def parse_embargo_ruleset(data: dict[str, Any], path: str) -> EmbargoRuleset:
    try:
        parsed = _EmbargoFile.model_validate(data)
    except ValidationError as exc:
        raise first_error(path, exc) from None
    missing = [key for key in EMBARGO_PROVISIONS if key not in parsed.provisions]
    if missing:
        raise RulesetError(path, "provisions", f"missing: {', '.join(missing)}")
    return EmbargoRuleset(
        id=parsed.id,
        title=parsed.title,
        sha256=canonical_sha256(data),
        status_note=parsed.status_note.strip(),
        sources=tuple(Source(s.title, s.url) for s in parsed.sources),
        effective=parsed.dates.effective,
        embargoed=frozenset(parsed.embargoed.places),
        provisions={k: Provision(v.citation, v.title) for k, v in parsed.provisions.items()},
        files=parsed.parameter_files.build(),
        block_published=parsed.block_published,
        require_screening=parsed.require_screening,
    )
