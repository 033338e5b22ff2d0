"""Whether a model's weights are published (15 CFR 734.7(a)), with the evidence for the answer.

Publication is a fact about the world, so it needs evidence from a source the operator trusts
(RULES.md). The order, first match wins:

1. the operator's own record for the repository (`gate models classify --published
   --publication-evidence URL`), recorded with who, why and the evidence;
2. anything that says access is restricted: a private repository or gated access, from any
   source's API or from the card's `gated` / `extra_gated_*` fields: not published (a claim may
   make the answer more restrictive, never less);
3. a hub the operator configured as a publication source (`GATE_PUBLICATION_SOURCES`) whose API
   reports this repository at this commit public, not gated, and under licenses all on the
   ruleset's open list: published, with what was checked, where and when. Such evidence is
   checked again once older than the configured age (`is_stale`);
4. otherwise unknown. The model card's `license:` is recorded as the uploader's claim: on its own
   it leaves publication unknown, so a closed model whose card says `apache-2.0` is held, not
   passed as published.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gate.core.ruleset import Ruleset


@dataclass(frozen=True, slots=True)
class PublicationOverride:
    """An operator's ruling on one repository (the records store keeps these)."""

    published: bool
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class Publication:
    published: bool | None
    evidence: str


@dataclass(frozen=True, slots=True)
class HubPublication:
    """What a publication source's API said about one repository at one commit, and when.

    `found` is False when the source has no such repository or commit (then nothing else is
    known). `licenses` are the hub's (`cardData.license`, `license:` tags)."""

    source: str
    repo_id: str
    commit: str
    checked_at: datetime
    found: bool = True
    private: bool | None = None
    gated: object = None
    licenses: tuple[str, ...] = ()
    files: Mapping[str, str] | None = None
    """The source's files at this commit: path -> sha256 for LFS files, git blob id otherwise
    (None: the listing was not read, so the files cannot be matched)."""
    note: str = ""
    """Why a found answer is no evidence for the served bytes (see `matching`)."""

    def describe(self) -> str:
        when = self.checked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        where = f"{self.source.rstrip('/')}/api/models/{self.repo_id}/revision/{self.commit}"
        if not self.found:
            return f"{where}: {self.note or 'not found'} (checked {when})"
        gated = _gated(self.gated) or "no"
        licenses = ", ".join(self.licenses) or "none stated"
        return (
            f"{where}: private={self.private}, gated={gated}, license {licenses} (checked {when})"
        )


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v.strip())
    return ()


def hub_licenses(info: Mapping[str, Any]) -> tuple[str, ...]:
    """The licenses a hub's model info states: `cardData.license` (`license_name` for "other")
    and `license:` tags, each once, in order."""
    found: list[str] = []
    card = info.get("cardData")
    if isinstance(card, Mapping):
        stated = _strings(card.get("license"))
        if stated == ("other",) and isinstance(card.get("license_name"), str):
            stated = (card["license_name"],)
        found.extend(stated)
    for tag in _strings(info.get("tags")):
        if tag.startswith("license:"):
            found.append(tag.removeprefix("license:"))
    unique: dict[str, str] = {}
    for license_id in found:
        unique.setdefault(license_id.strip().casefold(), license_id.strip())
    return tuple(unique.values())


def tree_digests(entries: Sequence[Any]) -> dict[str, str]:
    """path -> digest from a hub's `/tree` entries: the LFS sha256, else the git blob id."""
    digests: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("type") != "file":
            continue
        lfs = entry.get("lfs")
        digest = lfs.get("oid") if isinstance(lfs, Mapping) else entry.get("oid")
        if isinstance(entry.get("path"), str) and isinstance(digest, str):
            digests[entry["path"]] = digest
    return digests


def hub_observation(
    info: Mapping[str, Any] | None,
    *,
    source: str,
    repo_id: str,
    commit: str,
    checked_at: datetime,
    files: Mapping[str, str] | None = None,
) -> HubPublication:
    """Read a hub's `/api/models/{repo}/revision/{commit}` answer (None: not found there) and,
    when read, its file listing at that commit (`tree_digests`).

    An answer for another commit is no evidence about this one, so it counts as not found."""
    if info is None or info.get("sha") != commit:
        return HubPublication(source, repo_id, commit, checked_at, found=False)
    private = info.get("private")
    return HubPublication(
        source,
        repo_id,
        commit,
        checked_at,
        found=True,
        private=private if isinstance(private, bool) else None,
        gated=info.get("gated"),
        licenses=hub_licenses(info),
        files=dict(files) if files is not None else None,
    )


def files_differ(
    observation: HubPublication, local: Mapping[str, tuple[str | None, str]]
) -> str | None:
    """Why the served files are not the ones the source published, or None when every one is.

    `local` maps each served path to (sha256 or None, git blob id). A commit id alone is a name
    (a local store's snapshot folder is called whatever it was called), so publication evidence
    holds only for bytes the source lists at that commit: same path, same digest."""
    if observation.files is None:
        return "the source's file listing was not read"
    for path, (sha256, git_oid) in sorted(local.items()):
        theirs = observation.files.get(path)
        if theirs is None:
            return f"{path} is not among the source's files at this commit"
        if theirs not in (sha256, git_oid):
            return f"{path} differs from the source's file at this commit"
    return None


def matching(
    observations: Sequence[HubPublication], local: Mapping[str, tuple[str | None, str]]
) -> list[HubPublication]:
    """The observations, each found one whose files differ from `local` turned into "not
    found" (no evidence about these bytes); restrictions (private, gated) are kept as seen."""
    kept: list[HubPublication] = []
    for observation in observations:
        restricted = observation.private or _gated(observation.gated)
        problem = files_differ(observation, local) if observation.found else None
        if problem is not None and not restricted:
            observation = replace(observation, found=False, note=f"no evidence: {problem}")
        kept.append(observation)
    return kept


def is_stale(observation: HubPublication, now: datetime, max_age: timedelta) -> bool:
    """Whether hub evidence is older than the operator allows and must be checked again."""
    return now - observation.checked_at > max_age


def _gated(value: object) -> str | None:
    """The hub's `gated` (False, "auto", "manual") or a card's `gated: true`, as a label."""
    if value is None or value is False:
        return None
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("", "false", "no", "none"):
            return None
        return lowered
    return "yes"


def _card_claim(licenses: Sequence[str]) -> str:
    if not licenses:
        return "the model card states no license"
    return (
        f"the model card claims license {', '.join(licenses)} (the uploader's claim, recorded; "
        "on its own it does not make the weights published)"
    )


def _open(ruleset: Ruleset, licenses: Sequence[str]) -> tuple[bool, str]:
    if not licenses:
        return False, "no license stated"
    notes = []
    for license_id in licenses:
        entry = ruleset.open_license(license_id)
        if entry is None:
            return False, f"license {license_id!r} is not on the ruleset's open list"
        notes.append(f"{entry.id} ({entry.note})")
    return True, "; ".join(notes)


def publication_status(
    ruleset: Ruleset,
    *,
    licenses: Sequence[str] = (),
    private: bool | None = None,
    gated: object = None,
    card_gated: object = None,
    card_gating_fields: Sequence[str] = (),
    override: PublicationOverride | None = None,
    observations: Sequence[HubPublication] = (),
) -> Publication:
    """Publication status per the module rule.

    `licenses` are the model card's (a claim); `private` and `gated` what the serving source's
    own API said (restrictive answers count, permissive ones prove nothing on their own);
    `observations` what the configured publication sources said about this commit."""
    if override is not None:
        state = "published" if override.published else "not published"
        return Publication(
            override.published, f"operator override by {override.by}: {state} ({override.reason})"
        )
    claim = _card_claim(licenses)
    restricted = [o for o in observations if o.found and (o.private or _gated(o.gated))]
    if private or any(o.private for o in restricted):
        where = next((o.describe() for o in restricted if o.private), "the source's API")
        return Publication(False, f"private repository ({where}): not available to the public")
    gate_label = _gated(gated) or _gated(card_gated)
    if restricted and gate_label is None:
        gate_label = _gated(restricted[0].gated)
    if gate_label is not None or card_gating_fields:
        how = f"gated access ({gate_label})" if gate_label else "gated access"
        fields = f"; card fields {', '.join(card_gating_fields)}" if card_gating_fields else ""
        return Publication(False, f"{how}{fields}: access restricted, so not published by default")
    checked: list[str] = []
    for observation in observations:
        checked.append(observation.describe())
        if not observation.found or observation.private is not False:
            continue
        is_open, notes = _open(ruleset, observation.licenses)
        if is_open:
            return Publication(
                True,
                f"publication source {observation.describe()}: public, not gated, license "
                f"{notes}; {claim}",
            )
    if not checked:
        return Publication(None, f"no publication source was checked; {claim}: unknown")
    sources = "; ".join(checked)
    return Publication(
        None,
        f"no publication source shows it public under an open license ({sources}); {claim}: "
        "unknown",
    )


def with_observations(
    ruleset: Ruleset, current: Publication, observations: Sequence[HubPublication]
) -> Publication:
    """Fold fresh publication-source observations into a classification's publication status.

    The classification (made once per commit and kept) saw the card and the serving source;
    observations from the configured publication sources are made again once stale, so they
    are folded in at decision time: a restriction already found stays; a source that shows the
    repository private or gated makes it not published; one that shows it public, ungated and
    openly licensed at this commit makes it published; otherwise the status stays as it was.
    (The operator's own record is folded in after this, by the records store, and wins.)
    """
    if current.published is False or not observations:
        return current
    found = publication_status(ruleset, observations=observations)
    if found.published is None:
        checked = "; ".join(o.describe() for o in observations)
        return Publication(current.published, f"{current.evidence}; checked: {checked}")
    return Publication(found.published, f"{found.evidence}; {current.evidence}")
