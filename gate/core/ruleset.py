"""The ruleset as the decision sees it: every number, list and citation the rule gives.

Built by `gate.rules.loader` from TOML; nothing here reads files. A ruleset is identified by its
id and the sha256 of its canonical content, and every decision names both so it can be replayed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from fnmatch import translate
from functools import cached_property

from gate.core.values import Group


@dataclass(frozen=True, slots=True)
class Provision:
    """A provision a decision cites: a short citation and what it says."""

    citation: str
    title: str


@dataclass(frozen=True, slots=True)
class Source:
    title: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class GroupLabels:
    """How people name a group: by meaning, in the Tier numbering, and in the article numbering."""

    name: str
    tier: str
    article_group: str


@dataclass(frozen=True, slots=True)
class Designation:
    """A model controlled whatever its compute (an is-informed letter, or the operator's call)."""

    repo_id: str
    reason: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class OpenLicense:
    """A license that allows unrestricted further dissemination (so its weights are published)."""

    id: str
    note: str


@dataclass(frozen=True, slots=True)
class ComputeRules:
    """Numbers the compute estimator takes from the ruleset rather than from code."""

    max_plausible_tokens: float
    max_plausible_tokens_note: str
    disagreement_factor: float
    implausibly_low_factor: float


@dataclass(frozen=True)
class Ruleset:
    id: str
    title: str
    sha256: str
    status_note: str
    sources: tuple[Source, ...]
    published: date
    effective: date
    compliance: date
    security_compliance: date
    in_force_until: date | None
    threshold_operations: float
    published_frontier_operations: float | None
    allied: frozenset[str]
    embargoed: frozenset[str]
    group_labels: Mapping[Group, GroupLabels]
    provisions: Mapping[str, Provision]
    parameter_patterns: tuple[str, ...]
    non_parameter_patterns: tuple[str, ...]
    designated: tuple[Designation, ...] = ()
    open_licenses: tuple[OpenLicense, ...] = ()
    compute: ComputeRules = field(default_factory=lambda: ComputeRules(1e14, "", 10.0, 0.2))

    @cached_property
    def threshold_text(self) -> str:
        """The threshold as reasons print it ("1e+26"), formatted once."""
        return f"{self.threshold_operations:.3g}"

    def in_force_on(self, day: date) -> bool:
        return self.compliance <= day and (
            self.in_force_until is None or day <= self.in_force_until
        )

    def group_of(self, country: str) -> Group:
        if country in self.embargoed:
            return Group.EMBARGOED
        if country in self.allied:
            return Group.ALLIED
        return Group.OTHER

    def cite(self, key: str) -> str:
        return self.citations[key]

    @cached_property
    def citations(self) -> dict[str, str]:
        """Provision key -> citation, looked up once per reason on every decision."""
        return {key: provision.citation for key, provision in self.provisions.items()}

    @cached_property
    def _parameter_regex(self) -> re.Pattern[str]:
        return re.compile("|".join(translate(p.lower()) for p in self.parameter_patterns))

    @cached_property
    def _non_parameter_regex(self) -> re.Pattern[str] | None:
        if not self.non_parameter_patterns:
            return None
        return re.compile("|".join(translate(p.lower()) for p in self.non_parameter_patterns))

    @cached_property
    def _parameter_cache(self) -> dict[str, bool]:
        return {}

    def is_parameters(self, path: str) -> bool:
        """Whether a repository file holds parameters, by its name (patterns match the basename)."""
        name = path.rsplit("/", 1)[-1].lower()
        cache = self._parameter_cache
        known = cache.get(name)
        if known is None:
            known = self._match_parameters(name)
            if len(cache) < 65536:  # bounded: names come from requests
                cache[name] = known
        return known

    def _match_parameters(self, name: str) -> bool:
        excluded = self._non_parameter_regex
        if excluded is not None and excluded.match(name):
            return False
        return self._parameter_regex.match(name) is not None

    def designation_for(self, repo_id: str) -> Designation | None:
        if not self.designated:
            return None
        key = repo_id.casefold()
        for designation in self.designated:
            if designation.repo_id.casefold() == key:
                return designation
        return None

    def open_license(self, license_id: str) -> OpenLicense | None:
        key = license_id.strip().casefold()
        for entry in self.open_licenses:
            if entry.id.casefold() == key:
                return entry
        return None
