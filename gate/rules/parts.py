"""Pieces of the ruleset file format shared by every kind of ruleset (4E091, embargoes).

Strict shapes (gate.rules.shape) for sources, provisions and the fail-closed parameter-files
section, and the one place that turns a validation error into a RulesetError naming file, key
and problem.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import core_schema as cs

from gate.core.files import FileCategory, FileRules
from gate.errors import RulesetError
from gate.rules.countries import is_place_code
from gate.rules.shape import ValidationError, checked, field, record

TEXT = cs.str_schema()
TEXTS = cs.list_schema(TEXT)
DAY = cs.date_schema()

SOURCE = record("SourceIn", {"title": field(TEXT), "url": field(cs.nullable_schema(TEXT), None)})
PROVISION = record("ProvisionIn", {"citation": field(TEXT), "title": field(TEXT)})
PROVISIONS = cs.dict_schema(TEXT, PROVISION)
SOURCES = cs.list_schema(SOURCE, min_length=1)


def _hex(value: list[str]) -> list[str]:
    for item in value:
        try:
            if not bytes.fromhex(item):
                raise ValueError
        except ValueError:
            raise ValueError(f"{item!r} is not a non-empty hex string") from None
    return value


_CATEGORY = record(
    "CategoryIn",
    {
        "patterns": field(cs.list_schema(TEXT, min_length=1)),
        "text": field(cs.bool_schema(strict=True)),
        "signatures": field(checked(_hex, TEXTS), factory=list),
    },
)
PARAMETER_FILES = record(
    "ParameterFilesIn",
    {
        "max_non_parameter_bytes": field(cs.int_schema(gt=0)),
        "safetensors_metadata_max_bytes": field(cs.int_schema(ge=0), 65536),
        "not_parameters": field(cs.dict_schema(TEXT, _CATEGORY)),
    },
)


def file_rules(parsed: Any) -> FileRules:
    """The core's file test from a validated `parameter_files` section."""
    return FileRules(
        categories=tuple(
            FileCategory(
                name,
                tuple(c.patterns),
                c.text,
                tuple(bytes.fromhex(s) for s in c.signatures),
            )
            for name, c in parsed.not_parameters.items()
        ),
        max_non_parameter_bytes=parsed.max_non_parameter_bytes,
        safetensors_metadata_max_bytes=parsed.safetensors_metadata_max_bytes,
    )


def check_places(value: list[str]) -> list[str]:
    """Country (`IR`) or region (`UA-43`) codes, each listed once."""
    for code in value:
        if not is_place_code(code):
            raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 or ISO 3166-2 region code")
    if len(set(value)) != len(value):
        duplicates = sorted({c for c in value if value.count(c) > 1})
        raise ValueError(f"listed more than once: {', '.join(duplicates)}")
    return value


PLACES = checked(check_places, TEXTS)


def first_error(path: str, exc: ValidationError) -> RulesetError:
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
