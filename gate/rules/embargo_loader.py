"""Read an `ear-embargoes` ruleset (RULES.md "Beyond 4E091") strictly into the core's value."""

from __future__ import annotations

from typing import Any

from pydantic_core import core_schema as cs

from gate.core.canonical import canonical_sha256
from gate.core.embargoes import EMBARGO_PROVISIONS, EmbargoRuleset
from gate.core.ruleset import Provision, Source
from gate.errors import RulesetError
from gate.rules.parts import (
    DAY,
    PARAMETER_FILES,
    PROVISIONS,
    SOURCES,
    TEXT,
    check_places,
    file_rules,
    first_error,
)
from gate.rules.shape import ValidationError, checked, field, record, validator

_STRICT_BOOL = cs.bool_schema(strict=True)
_EMBARGO_FILE = validator(
    record(
        "_EmbargoFile",
        {
            "id": field(cs.str_schema(min_length=1)),
            "procedure": field(cs.literal_schema(["ear-embargoes"])),
            "title": field(TEXT),
            "status_note": field(TEXT),
            "block_published": field(_STRICT_BOOL, False),
            "require_screening": field(_STRICT_BOOL, False),
            "dates": field(record("_Dates", {"effective": field(DAY)})),
            "sources": field(SOURCES),
            "embargoed": field(
                record(
                    "_Embargoed",
                    {
                        "note": field(TEXT, ""),
                        "places": field(checked(check_places, cs.list_schema(TEXT, min_length=1))),
                    },
                )
            ),
            "provisions": field(PROVISIONS),
            "parameter_files": field(PARAMETER_FILES),
        },
    )
)


def parse_embargo_ruleset(data: dict[str, Any], path: str) -> EmbargoRuleset:
    try:
        parsed = _EMBARGO_FILE(data)
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
        files=file_rules(parsed.parameter_files),
        block_published=parsed.block_published,
        require_screening=parsed.require_screening,
    )
