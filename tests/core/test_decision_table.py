"""The decision table: ~1400 transfers with the verdict and basis RULES.md gives each.

decision_table.csv was written from RULES.md (tests/core/oracle.py reads both procedures and
their combination in the table's own vocabulary, sharing no code with the gate). Each row goes
through the public request JSON, so places (Hong Kong, Puerto Rico, UA-43), licenses, inquiries
and screening are parsed the way a user's request is, and is decided under the shipped set.
"""

from __future__ import annotations

import pytest

from gate.core.ruleset_set import decide_all
from gate.rules.loader import load_shipped_set
from gate.schema import parse_request
from tests.core.oracle import Row, expected, expected_4e091, expected_embargoes
from tests.core.table_rows import read_table, request_for, table_rows

TABLE = read_table()
SHIPPED = load_shipped_set()


def test_table_is_large_and_spans_every_basis() -> None:
    assert len(TABLE) >= 1000
    bases = {basis for _, _, _, basis, _ in TABLE}
    assert bases == {
        "not_in_force",
        "not_model_weights",
        "published",
        "below_threshold",
        "publication_unknown",
        "compute_undetermined",
        "licensed",
        "presumption_of_denial",
        "parties_unknown",
        "duty_to_inquire",
        "domestic_transfer",
        "license_exception_aia",
        "license_exception_aia_weights",
        "security_attestation_required",
        "license_required",
        "comprehensive_embargo",
        "restricted_party",
        "restricted_party_review",
    }
    own_embargo_bases = {own[1][1] for *_, own in TABLE}
    assert "no_embargo" in own_embargo_bases and "parties_unknown" in own_embargo_bases


def test_table_file_matches_its_rows() -> None:
    # The CSV is what reviewers read; it must be exactly the rows and expectations we test.
    assert [
        (row, expected(row), (expected_4e091(row), expected_embargoes(row))) for row in table_rows()
    ] == [(row, (verdict, basis), own) for _, row, verdict, basis, own in TABLE]


@pytest.mark.parametrize(
    ("number", "row", "verdict", "basis", "own"), TABLE, ids=[f"row{n}" for n, *_ in TABLE]
)
def test_row(
    number: int,
    row: Row,
    verdict: str,
    basis: str,
    own: tuple[tuple[str, str], tuple[str, str]],
) -> None:
    decision = decide_all(parse_request(request_for(row)), SHIPPED)
    assert (decision.verdict.value, decision.basis.value) == (verdict, basis), row
    assert [(r.verdict.value, r.basis.value) for r in decision.rulesets] == list(own), row
    # Every ruleset that did not allow has its reasons in the decision's reasons.
    for r in decision.rulesets:
        if r.verdict.value != "allow":
            assert set(r.reasons) <= set(decision.reasons)
