"""The decision table: 300+ transfers with the verdict and basis RULES.md gives each.

decision_table.csv was written from RULES.md (tests/core/oracle.py reads the procedure in the
table's own vocabulary, sharing no code with the gate). Each row goes through the public request
JSON, so country spelling, licenses and inquiries are parsed the way a user's request is.
"""

from __future__ import annotations

import pytest

from gate.core.decide import decide
from gate.rules.loader import load_default_ruleset
from gate.schema import parse_request
from tests.core.oracle import Row, expected
from tests.core.table_rows import read_table, request_for, table_rows

TABLE = read_table()


def test_table_is_large_and_spans_every_basis() -> None:
    assert len(TABLE) >= 200
    bases = {basis for _, _, _, basis in TABLE}
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
        "license_exception_aia",
        "license_exception_aia_weights",
        "security_attestation_required",
        "license_required",
    }


def test_table_file_matches_its_rows() -> None:
    # The CSV is what reviewers read; it must be exactly the rows and expectations we test.
    assert [(row, expected(row)) for row in table_rows()] == [
        (row, (verdict, basis)) for _, row, verdict, basis in TABLE
    ]


@pytest.mark.parametrize(
    ("number", "row", "verdict", "basis"), TABLE, ids=[f"row{n}" for n, *_ in TABLE]
)
def test_row(number: int, row: Row, verdict: str, basis: str) -> None:
    decision = decide(parse_request(request_for(row)), load_default_ruleset())
    assert (decision.verdict.value, decision.basis.value) == (verdict, basis), row
