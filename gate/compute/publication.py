"""Whether a model's weights are published (15 CFR 734.7(a)), with the evidence for the answer.

The order, first match wins:
1. an operator override for the repository (recorded with who and why);
2. a private repository: not published;
3. gated access (manual approval or an access form, from the hub's `gated` field or the card's
   `gated` / `extra_gated_*` fields): not published, since access is restricted;
4. the license: every license of the model in the ruleset's list of licenses that allow
   unrestricted further dissemination: published; any other or no license: unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def publication_status(
    ruleset: Ruleset,
    *,
    licenses: Sequence[str] = (),
    private: bool | None = None,
    gated: object = None,
    card_gated: object = None,
    card_gating_fields: Sequence[str] = (),
    override: PublicationOverride | None = None,
) -> Publication:
    if override is not None:
        state = "published" if override.published else "not published"
        return Publication(
            override.published, f"operator override by {override.by}: {state} ({override.reason})"
        )
    if private:
        return Publication(False, "private repository: not available to the public")
    gate_label = _gated(gated) or _gated(card_gated)
    if gate_label is not None or card_gating_fields:
        how = f"gated access ({gate_label})" if gate_label else "gated access"
        fields = f"; card fields {', '.join(card_gating_fields)}" if card_gating_fields else ""
        return Publication(False, f"{how}{fields}: access restricted, so not published by default")
    if not licenses:
        return Publication(None, "no license stated: publication status unknown")
    notes = []
    for license_id in licenses:
        entry = ruleset.open_license(license_id)
        if entry is None:
            return Publication(
                None,
                f"license {license_id!r} is not in the ruleset's list of licenses allowing "
                "unrestricted dissemination: publication status unknown",
            )
        notes.append(f"{entry.id} ({entry.note})")
    return Publication(True, f"public, ungated, license {'; '.join(notes)}")
