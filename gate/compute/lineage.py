"""Lineage: which base models a model names, and where the gate learns their training compute.

A model trained from another's weights carries the base's operations (RULES.md). Bases are named
by the model card's `base_model` (every entry of a list: a merge carries all its parents) and by
a declaration's `base_model`. Their compute is looked up, first found wins:

1. the records: a classification recorded for the base;
2. the known-models table (`gate/rules/known-models.toml`);
3. classifying the base through the same source, when the gate can reach it (its own
   interval already carries its own bases, to a bounded depth).

A base found nowhere is returned as unknown (None), which leaves the child's high end unknown
(`gate.compute.combine`). The lookups are callables, so this module does no I/O of its own.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from gate.core.values import ComputeInterval

MAX_DEPTH = 4
"""How many generations of bases are classified through the source before the rest is unknown."""

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


def named_bases(*sources: Iterable[str] | str | None) -> tuple[str, ...]:
    """Every base named, once each (case-insensitively), in the order first named."""
    seen: dict[str, str] = {}
    for source in sources:
        if source is None:
            continue
        for name in (source,) if isinstance(source, str) else source:
            cleaned = name.strip()
            if cleaned:
                seen.setdefault(cleaned.casefold(), cleaned)
    return tuple(seen.values())


def looks_like_repo(name: str) -> bool:
    """Whether a base name could be a hub repository id (only those are asked of the source)."""
    return bool(_REPO.match(name)) and ".." not in name


@dataclass(frozen=True, slots=True)
class BaseLookups:
    """Where base compute is looked up; each returns None when it does not know the base."""

    recorded: Callable[[str], ComputeInterval | None] = lambda _name: None
    known: Callable[[str], ComputeInterval | None] = lambda _name: None
    classify: Callable[[str, int], Awaitable[ComputeInterval | None]] | None = None
    """Classify the base through the same source at the given depth (None: cannot reach)."""


async def resolve_bases(
    names: Iterable[str], lookups: BaseLookups, *, depth: int = 0, child: str | None = None
) -> Mapping[str, ComputeInterval | None]:
    """Each named base's compute, None when the gate cannot learn it.

    A model naming itself, or a chain deeper than `MAX_DEPTH`, gives None: a cycle or an endless
    chain is not a fact the gate may assume away."""
    found: dict[str, ComputeInterval | None] = {}
    for name in names:
        if child is not None and name.casefold() == child.casefold():
            found[name] = None
            continue
        interval = lookups.recorded(name) or lookups.known(name)
        if (
            interval is None
            and lookups.classify is not None
            and depth < MAX_DEPTH
            and looks_like_repo(name)
        ):
            interval = await lookups.classify(name, depth + 1)
        found[name] = interval
    return found
