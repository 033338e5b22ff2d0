"""The table of known models (`known-models.toml`): training compute of models others train from.

Lineage (RULES.md): a model trained from another's weights carries the base's operations, and a
named base whose compute the gate cannot find leaves the child's high end unknown. This table is
one of the places the gate finds it, shipped as ruleset data so an operator can extend or replace
it without a release. Read strictly: an unknown key, a missing source, low above high or a name
listed twice is a RulesetError naming the file, the key and the problem. Names (ids and aliases)
match case-insensitively, as the hub matches repository names.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gate.core.canonical import canonical_sha256
from gate.core.values import ComputeInterval
from gate.errors import RulesetError

DEFAULT_KNOWN_MODELS = "known-models.toml"
Kind = Literal["reported", "estimate", "bound"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Row(_Strict):
    id: str = Field(min_length=3, pattern=r"^[^/\s]+/[^/\s]+$")
    aliases: list[str] = []
    kind: Kind
    low: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    high: float = Field(gt=0, allow_inf_nan=False)
    basis: str = Field(min_length=1)
    source: str = Field(pattern=r"^https://\S+$")
    published: bool

    @model_validator(mode="after")
    def _ordered(self) -> _Row:
        if self.low is not None and self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is above high ({self.high:g})")
        if self.kind != "bound" and self.low is None:
            raise ValueError(f"a {self.kind} figure needs its low end")
        return self


class _File(_Strict):
    id: str
    version: str
    note: str = ""
    models: list[_Row] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class KnownModel:
    """One row: a model's training operations, how they were obtained and where they come from."""

    id: str
    aliases: tuple[str, ...]
    kind: Kind
    low: float | None
    high: float
    basis: str
    source: str
    published: bool

    def interval(self) -> ComputeInterval:
        """The row as the interval lineage adds (method `known_model`, evidence naming source)."""
        central = self.low if self.kind == "reported" else None
        return ComputeInterval(
            low=self.low,
            high=self.high,
            central=central,
            method="known_model",
            evidence=(f"known-models table: {self.id}, {self.kind}: {self.basis} ({self.source})",),
        )


@dataclass(frozen=True, slots=True)
class KnownModels:
    id: str
    version: str
    sha256: str
    models: tuple[KnownModel, ...]
    by_name: Mapping[str, KnownModel]

    def lookup(self, name: str) -> KnownModel | None:
        """The row whose id or alias is `name`, ignoring case (and a trailing `@revision`)."""
        return self.by_name.get(name.strip().split("@", 1)[0].casefold())


def parse_known_models(data: dict[str, Any], path: str = "<known models>") -> KnownModels:
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        kinds = {"extra_forbidden": "unknown key", "missing": "missing"}
        problem = kinds.get(error["type"], str(error["msg"]).removeprefix("Value error, "))
        raise RulesetError(path, key, problem) from None
    rows: list[KnownModel] = []
    by_name: dict[str, KnownModel] = {}
    for index, row in enumerate(parsed.models):
        model = KnownModel(
            row.id,
            tuple(row.aliases),
            row.kind,
            row.low,
            row.high,
            row.basis,
            row.source,
            row.published,
        )
        rows.append(model)
        for name in (row.id, *row.aliases):
            key = name.casefold()
            if key in by_name:
                raise RulesetError(path, f"models.{index}", f"{name!r} is listed twice")
            by_name[key] = model
    return KnownModels(parsed.id, parsed.version, canonical_sha256(data), tuple(rows), by_name)


def load_known_models(path: str | Path) -> KnownModels:
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise RulesetError(where, "", f"cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesetError(where, "", f"invalid TOML: {exc}") from exc
    return parse_known_models(data, where)


def default_known_models_path() -> Path:
    return Path(str(resources.files("gate.rules").joinpath(DEFAULT_KNOWN_MODELS)))


@lru_cache(maxsize=1)
def load_default_known_models() -> KnownModels:
    return load_known_models(default_known_models_path())
