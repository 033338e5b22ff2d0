"""An independent reading of RULES.md's decision procedure, used to write and check the table.

Written from RULES.md's text, not from gate/core/decide.py: facts come in as the short codes the
decision table uses (country groups rather than countries), and the procedure is a flat list of
"if this, then that" in the order RULES.md numbers them. It shares no code with the gate.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITY = {"E": 2, "O": 1, "A": 0}


@dataclass(frozen=True)
class Row:
    """One transfer in the table's vocabulary.

    published: T, F, ? | compute: below, straddle, above, unknown, exact (1e26), lowonly (low
    known below, high unknown) | hq, dest: A (allied), O (other), E (embargoed), ? (unknown) |
    parent: A, O, E, ?, self | license: none, cover, wrong_recipient, wrong_dest, expired, eccn,
    not_yet | attest: current, expired, none | trained: y, n | inquiry: none, open, done_A,
    done_O, done_E (completed, declaring a destination of that group) | designated: y, n |
    in_force: y, n | weights: y, n (is the file parameters?)
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


def expected(row: Row) -> tuple[str, str]:
    """(verdict, basis) as RULES.md's procedure gives it."""
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
    # controlled
    parent = row.hq if row.parent == "self" else row.parent
    destinations = [row.dest]
    if row.inquiry.startswith("done_"):
        destinations.append(row.inquiry[-1])
    # A license names recipient, model (or 4E091), every destination, and is valid on the date.
    # The table's licenses name only the transfer's own destination country, and a completed
    # inquiry always declares a different country, so a completed inquiry is never covered.
    if row.license in ("cover", "eccn") and row.dest != "?" and len(destinations) == 1:
        return "allow", "licensed"
    if "E" in (row.hq, parent, *destinations):
        return "deny", "presumption_of_denial"
    if "?" in (row.hq, parent, *destinations):
        return "hold", "parties_unknown"
    outside = row.hq != "A" or parent != "A"
    if row.trained == "y" and outside and not row.inquiry.startswith("done_"):
        return "hold", "duty_to_inquire"
    worst = max(destinations, key=lambda g: SEVERITY[g])
    if not outside and worst == "A":
        return "allow", "license_exception_aia"
    if not outside and worst == "O":
        if row.attest == "current":
            return "allow", "license_exception_aia_weights"
        return "hold", "security_attestation_required"
    return "license_required", "license_required"
