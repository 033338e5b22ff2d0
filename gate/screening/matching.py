"""Scoring a name against an indexed list: typo-tolerant, token-order free, aliases included.

Every name of every entry (the name and each alias) is normalised once into sorted tokens. A query
is normalised the same way and scored two ways, the higher wins:

- `fuzz.ratio` of the sorted-token strings (rapidfuzz's token_sort_ratio, precomputed) against
  every name, in C with a score cut-off: catches case, punctuation, suffix, order, typos;
- `SUBSET_SCORE` when all tokens of one name are in the other, the smaller has at least two tokens
  and at least `SUBSET_COVER` of the larger's (found through a token index): one name contained in
  the other ("Bank Melli" in "Bank Melli Iran"), a little below an exact match; two generic words
  shared with a long name ("Mining Development" in "Korea Mining Development Trading") are not.

A party whose country is among the entry's countries gets `COUNTRY_BONUS` points (never above 100).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from gate.screening import DEFAULT_THRESHOLD
from gate.screening.lists import ListEntry
from gate.screening.normalize import normalize_name

COUNTRY_BONUS = 5.0
SUBSET_SCORE = 92.0
SUBSET_COVER = 0.6


@dataclass(frozen=True, slots=True)
class Hit:
    """A list entry a name matched: the score (0-100, bonus included) and the name it matched."""

    entry: ListEntry
    score: float
    matched_name: str
    country_agrees: bool


class ScreeningIndex:
    """A list indexed for `screen`: the normalised names, and which entries hold each token."""

    def __init__(self, entries: Iterable[ListEntry]) -> None:
        self.entries: tuple[ListEntry, ...] = tuple(entries)
        self._names: list[str] = []  # normalised, sorted tokens
        self._raw: list[str] = []  # the name as listed
        self._owner: list[int] = []  # index into entries
        tokens: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(self.entries):
            seen: set[str] = set()
            for raw in entry.all_names:
                norm = normalize_name(raw)
                if not norm or norm in seen:
                    continue
                seen.add(norm)
                slot = len(self._names)
                self._names.append(norm)
                self._raw.append(raw)
                self._owner.append(i)
                for token in set(norm.split()):
                    tokens[token].append(slot)
        self._tokens = dict(tokens)

    def __len__(self) -> int:
        return len(self.entries)

    def screen(
        self, name: str, country: str | None = None, *, threshold: float = DEFAULT_THRESHOLD
    ) -> list[Hit]:
        """The entries `name` matches at `threshold` or more, best first (one hit per entry)."""
        query = normalize_name(name)
        if not query:
            return []
        floor = max(threshold - COUNTRY_BONUS, 0.0) if country else threshold
        best: dict[int, tuple[float, int]] = {}  # entry -> (base score, name slot)

        def keep(slot: int, score: float) -> None:
            owner = self._owner[slot]
            if owner not in best or score > best[owner][0]:
                best[owner] = (score, slot)

        for _, score, slot in process.extract(
            query, self._names, scorer=fuzz.ratio, score_cutoff=floor, limit=None
        ):
            keep(slot, float(score))
        if floor <= SUBSET_SCORE:
            for slot in self._contained(query):
                keep(slot, SUBSET_SCORE)
        hits = []
        for owner, (base, slot) in best.items():
            entry = self.entries[owner]
            agrees = country is not None and country in entry.countries
            score = min(100.0, base + COUNTRY_BONUS) if agrees else base
            if score >= threshold:
                hits.append(Hit(entry, round(score, 1), self._raw[slot], agrees))
        hits.sort(key=lambda h: (-h.score, h.entry.uid))
        return hits

    def _contained(self, query: str) -> Sequence[int]:
        """Names that contain the query's tokens or are contained in them (see SUBSET_*)."""
        mine = set(query.split())
        counts: dict[int, int] = defaultdict(int)
        for token in mine:
            for slot in self._tokens.get(token, ()):
                counts[slot] += 1
        out = []
        for slot, shared in counts.items():
            if shared < 2:
                continue
            theirs = len(set(self._names[slot].split()))
            small, large = min(len(mine), theirs), max(len(mine), theirs)
            if shared == small and small >= SUBSET_COVER * large:
                out.append(slot)
        return out
