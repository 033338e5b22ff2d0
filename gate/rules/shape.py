"""Strict shapes for the gate's input files (rulesets, request JSON), checked by pydantic-core.

The shapes are pydantic-core schemas written out directly rather than built from pydantic models
at import: the same validators, the same lax conversions and the same error texts and locations
(`Input should be a valid dictionary or instance of ModelIn`, `String should have at least 1
character`), without the ~0.3 s pydantic spends building its models when `gate decide` starts.
A record validates into an object whose attributes are its fields; an unknown key is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

__all__ = [
    "ValidationError",
    "checked",
    "field",
    "record",
    "validator",
]

_REQUIRED = object()


def field(schema: cs.CoreSchema, default: Any = _REQUIRED, factory: Any = None) -> cs.ModelField:
    """A record field: required unless a `default` value or a `factory` for one is given."""
    if factory is not None:
        return cs.model_field(cs.with_default_schema(schema, default_factory=factory))
    if default is not _REQUIRED:
        return cs.model_field(cs.with_default_schema(schema, default=default))
    return cs.model_field(schema)


def record(name: str, fields: dict[str, cs.ModelField]) -> cs.ModelSchema:
    """A mapping with exactly these fields (in this order); `name` appears in type errors."""
    cls = type(name, (), {"__module__": __name__})
    return cs.model_schema(
        cls, cs.model_fields_schema(fields, model_name=name, extra_behavior="forbid")
    )


def checked(check: Callable[[Any], Any], schema: cs.CoreSchema) -> cs.CoreSchema:
    """`schema`, then `check` on the value; a ValueError it raises is the field's error."""
    return cs.no_info_after_validator_function(check, schema)


def validator(schema: cs.CoreSchema) -> Callable[[Any], Any]:
    """The validating function for `schema`: value in, record out, ValidationError otherwise."""
    return SchemaValidator(schema).validate_python
