"""Pieces of the ruleset file format shared by every kind of ruleset (4E091, embargoes).

Strict pydantic models for sources, provisions and the fail-closed parameter-files section, and
the one place that turns a validation error into a RulesetError naming file, key and problem.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from gate.core.files import FileCategory, FileRules
from gate.errors import RulesetError
from gate.rules.countries import is_place_code


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceIn(Strict):
    title: str
    url: str | None = None


class ProvisionIn(Strict):
    citation: str
    title: str


class CategoryIn(Strict):
    patterns: list[str] = Field(min_length=1)
    text: StrictBool
    signatures: list[str] = []

    @field_validator("signatures")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                if not bytes.fromhex(item):
                    raise ValueError
            except ValueError:
                raise ValueError(f"{item!r} is not a non-empty hex string") from None
        return value


class ParameterFilesIn(Strict):
    max_non_parameter_bytes: int = Field(gt=0)
    safetensors_metadata_max_bytes: int = Field(default=65536, ge=0)
    not_parameters: dict[str, CategoryIn]

    def build(self) -> FileRules:
        return FileRules(
            categories=tuple(
                FileCategory(
                    name,
                    tuple(c.patterns),
                    c.text,
                    tuple(bytes.fromhex(s) for s in c.signatures),
                )
                for name, c in self.not_parameters.items()
            ),
            max_non_parameter_bytes=self.max_non_parameter_bytes,
            safetensors_metadata_max_bytes=self.safetensors_metadata_max_bytes,
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
