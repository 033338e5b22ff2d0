"""An independent reading of RULES.md's two procedures and their combination, for the table.

Written from RULES.md's text, not from gate/core: facts come in as the short codes the decision
table uses (kinds of place rather than countries), and each procedure is a flat list of "if this,
then that" in the order RULES.md numbers them. It shares no code with the gate.

Places (hq, parent, dest, and what an inquiry declares):
  A  allied, not the United States (Germany, France, Japan, United Kingdom)
  U  the United States
  P  Puerto Rico (a US territory: the United States for every test)
  O  `other` (India, Brazil)
  R  Crimea, region code UA-43 (Ukraine is `other`; Crimea is comprehensively embargoed)
  E  `embargoed` under 4E091 only (China, Macau)
  H  Hong Kong (the EAR treats it as China: `embargoed`)
  I  `embargoed` and comprehensively embargoed (Iran, North Korea, Russia)
  ?  unknown
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = {"A": "A", "U": "A", "P": "A", "O": "O", "R": "O", "E": "E", "H": "E", "I": "E"}
SEVERITY = {"E": 2, "O": 1, "A": 0}
DOMESTIC = {"U", "P"}
COMPREHENSIVE = {"R", "I"}
VERDICT_ORDER = {"deny": 3, "hold": 2, "license_required": 1, "allow": 0}


@dataclass(frozen=True)
class Row:
    """One transfer in the table's vocabulary.

    published: T, F, ? | compute: below, straddle, above, unknown, exact (1e26), lowonly (low
    known below, high unknown) | hq, dest: a place code (above) | parent: a place code or self |
    license: none, cover, by_name (names the recipient's display name, not its id), wrong_dest,
    expired, eccn, not_yet | attest: current, expired, none | trained: y, n | inquiry: none,
    open, open_X (open, declaring a place X), done_X (completed, declaring X) | designated: y, n
    | in_force: y, n | weights: y, n (is the file parameters?) | screening, parent_screening:
    clear, possible, match, none (never screened; parent_screening applies to a named parent)
    """

    published: str = "F"
    compute: str = "above"
    hq: str = "A"
    parent: str = "A"
    dest: str = "A"
    license: str = "none"
    attest: str = "none"
    trained: str = "n"
    inquiry: str = "none"
    designated: str = "n"
    in_force: str = "y"
    weights: str = "y"
    screening: str = "clear"
    parent_screening: str = "clear"


def _parent(row: Row) -> str:
    return row.hq if row.parent == "self" else row.parent


def _destinations(row: Row) -> list[str]:
    """The destination and whatever the recipient declared, in any inquiry state.

    The table declares another country of the same kind than the transfer's destination, except
    for Hong Kong, of which there is one: declaring it as well adds no destination.
    """
    places = [row.dest]
    if "_" in row.inquiry:
        declared = row.inquiry.split("_")[1]
        if not (declared == "H" and row.dest == "H"):
            places.append(declared)
    return places


def _licensed(row: Row) -> bool:
    # A license names the recipient by id, the model (or 4E091), every destination, the date.
    # The table's licenses name only the transfer's own destination, so an inquiry declaring
    # another place is never covered.
    return row.license in ("cover", "eccn") and row.dest != "?" and len(_destinations(row)) == 1


def expected_4e091(row: Row) -> tuple[str, str]:
    """(verdict, basis) as RULES.md's decision procedure (steps 1-14) gives it."""
    if row.in_force == "n":
        return "allow", "not_in_force"
    if row.weights == "n":
        return "allow", "not_model_weights"
    if row.designated != "y":
        if row.published == "T":
            return "allow", "published"
        # "wholly below": high end known and below 1e26
        if row.compute == "below":
            return "allow", "below_threshold"
        if row.published == "?":
            return "hold", "publication_unknown"
        # only "above" and "exact" (low end known and >= 1e26) are wholly at or above
        if row.compute not in ("above", "exact"):
            return "hold", "compute_undetermined"
    parent = _parent(row)
    places = _destinations(row)
    if _licensed(row):
        return "allow", "licensed"
    if any(GROUP.get(p) == "E" for p in (row.hq, parent, *places)):
        return "deny", "presumption_of_denial"
    if "?" in (row.hq, parent, *places):
        return "hold", "parties_unknown"
    outside = GROUP[row.hq] != "A" or GROUP[parent] != "A"
    domestic = all(p in DOMESTIC for p in places)
    completed = row.inquiry.startswith("done_")
    if outside and not completed and (row.trained == "y" or domestic):
        return "hold", "duty_to_inquire"
    if domestic:
        return "allow", "domestic_transfer"
    worst = max((GROUP[p] for p in places), key=SEVERITY.__getitem__)
    if not outside and worst == "A":
        return "allow", "license_exception_aia"
    if not outside and worst == "O":
        if row.attest == "current":
            return "allow", "license_exception_aia_weights"
        return "hold", "security_attestation_required"
    return "license_required", "license_required"


def expected_embargoes(row: Row) -> tuple[str, str]:
    """(verdict, basis) as RULES.md "Beyond 4E091" (steps 1-7) gives it, policy flags off."""
    if row.weights == "n":
        return "allow", "not_model_weights"
    if row.published == "T":
        return "allow", "published"
    named_parent = row.parent not in ("self", "?")
    statuses = [row.screening] + ([row.parent_screening] if named_parent else [])
    if "match" in statuses:
        return "deny", "restricted_party"
    if any(p in COMPREHENSIVE for p in (row.hq, _parent(row), *_destinations(row))):
        if _licensed(row):
            return "allow", "licensed"
        return "deny", "comprehensive_embargo"
    if "possible" in statuses:
        return "hold", "restricted_party_review"
    if "?" in (row.hq, _parent(row), *_destinations(row)):
        return "hold", "parties_unknown"
    return "allow", "no_embargo"


def expected(row: Row) -> tuple[str, str]:
    """The shipped set (ai-diffusion-2025, then ear-embargoes): the most restrictive verdict
    wins; between equal verdicts the first ruleset names the basis."""
    first, second = expected_4e091(row), expected_embargoes(row)
    return second if VERDICT_ORDER[second[0]] > VERDICT_ORDER[first[0]] else first
