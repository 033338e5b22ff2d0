"""The ruleset as the decision sees it: every number, list and citation the rule gives.

Built by `gate.rules.loader` from TOML; nothing here reads files. A ruleset is identified by its
id and the sha256 of its canonical content, and every decision names both so it can be replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from gate.core.files import FileCheck, FileRules
from gate.core.values import Group

UNITED_STATES = "US"


def country_of(place: str) -> str:
    """The country of a place code: `UA` for `UA-43`, the code itself for a country."""
    return place[:2]


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
    files: FileRules
    designated: tuple[Designation, ...] = ()
    open_licenses: tuple[OpenLicense, ...] = ()
    compute: ComputeRules = field(default_factory=lambda: ComputeRules(1e14, "", 10.0, 0.2))
    us_territories: frozenset[str] = frozenset()

    @cached_property
    def threshold_text(self) -> str:
        """The threshold as reasons print it ("1e+26"), formatted once."""
        return f"{self.threshold_operations:.3g}"

    def in_force_on(self, day: date) -> bool:
        return self.compliance <= day and (
            self.in_force_until is None or day <= self.in_force_until
        )

    def place(self, code: str) -> str:
        """The place a code stands for under this ruleset (RULES.md "Country groups").

        A region the ruleset names keeps its own code; any other region is its country; a US
        territory (15 CFR 772.1) is the United States.
        """
        if code in self.allied or code in self.embargoed:
            return code
        country = country_of(code)
        return UNITED_STATES if country in self.us_territories else country

    def group_of(self, code: str) -> Group:
        place = self._places.get(code)
        if place is None:
            place = self.place(code)
            if len(self._places) < 65536:  # bounded: codes come from requests
                self._places[code] = place
        if place in self.embargoed:
            return Group.EMBARGOED
        if place in self.allied:
            return Group.ALLIED
        return Group.OTHER

    @cached_property
    def _places(self) -> dict[str, str]:
        return {}

    def is_domestic(self, code: str) -> bool:
        """Whether `code` is in the United States, its territories included."""
        return self.place(code) == UNITED_STATES

    def cite(self, key: str) -> str:
        return self.citations[key]

    @cached_property
    def citations(self) -> dict[str, str]:
        """Provision key -> citation, looked up once per reason on every decision."""
        return {key: provision.citation for key, provision in self.provisions.items()}

    def is_parameters(self, path: str, head: bytes | None = None, size: int | None = None) -> bool:
        """Whether a repository file holds parameters: the fail-closed test (gate.core.files)."""
        return self.files.is_parameters(path, head, size)

    def check_file(
        self, path: str, head: bytes | None = None, size: int | None = None
    ) -> FileCheck:
        return self.files.check(path, head, size)

    def designation_for(self, repo_id: str) -> Designation | None:
        if not self.designated:
            return None
        key = repo_id.casefold()
        for designation in self.designated:
            if designation.repo_id.casefold() == key:  # as the hub matches names
                return designation
        return None

    def open_license(self, license_id: str) -> OpenLicense | None:
        key = license_id.strip().casefold()
        for entry in self.open_licenses:
            if entry.id.casefold() == key:
                return entry
        return None
