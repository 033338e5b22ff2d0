"""Properties that must hold for every request, checked on generated ones (hypothesis).

- decide() agrees with the independent reading of RULES.md (tests/core/oracle.py);
- filling in an unknown fact never turns a `deny` into anything else, except into `licensed`
  when the fact is a destination that a license on record names (step 7 comes before step 8:
  a BIS license authorizes even where an application would meet a presumption of denial);
- no request with an unknown fact that matters is allowed;
- decide() is deterministic and never raises on valid input.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.core.decide import decide
from gate.core.values import Basis, Verdict
from gate.rules.loader import load_default_ruleset
from gate.schema import parse_request
from tests.core.oracle import Row, expected
from tests.core.table_rows import COMPUTE, request_for

RULES = load_default_ruleset()

rows = st.builds(
    Row,
    published=st.sampled_from("TF?"),
    compute=st.sampled_from(list(COMPUTE)),
    hq=st.sampled_from("AOE?"),
    parent=st.sampled_from(["A", "O", "E", "?", "self"]),
    dest=st.sampled_from("AOE?"),
    license=st.sampled_from(
        ["none", "cover", "wrong_recipient", "wrong_dest", "expired", "eccn", "not_yet"]
    ),
    attest=st.sampled_from(["current", "expired", "none"]),
    trained=st.sampled_from("yn"),
    inquiry=st.sampled_from(["none", "open", "done_A", "done_O", "done_E"]),
    designated=st.sampled_from("ny"),
    in_force=st.sampled_from("yyyn"),
    weights=st.sampled_from("yyyn"),
)


def verdict_of(row: Row) -> tuple[str, str]:
    decision = decide(parse_request(request_for(row)), RULES)
    return decision.verdict.value, decision.basis.value


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(rows)
def test_agrees_with_independent_reading_of_the_rules(row: Row) -> None:
    assert verdict_of(row) == expected(row)


# Each unknown fact and the values it may turn out to have.
FILL_INS = {
    "published": "TF",
    "compute": ["below", "straddle", "above", "exact", "lowonly"],
    "hq": "AOE",
    "parent": ["A", "O", "E", "self"],
    "dest": "AOE",
}
UNKNOWN = {"published": "?", "compute": "unknown", "hq": "?", "parent": "?", "dest": "?"}


@settings(max_examples=400, deadline=None)
@given(rows, st.data())
def test_filling_in_an_unknown_never_lifts_a_deny(row: Row, data: st.DataObject) -> None:
    if verdict_of(row)[0] != "deny":
        return
    for name, unknown in UNKNOWN.items():
        if getattr(row, name) == unknown:
            value = data.draw(st.sampled_from(list(FILL_INS[name])), label=name)
            filled = dataclasses.replace(row, **{name: value})
            assert verdict_of(filled) in (
                ("deny", "presumption_of_denial"),
                *([("allow", "licensed")] if name == "dest" and row.license != "none" else []),
            ), (name, value)


# Which facts each allowing basis may leave unknown: none of the parties for the bases that
# rest on who and where; everything for the bases that say the rule does not reach the file.
PARTIES = ("hq", "parent", "dest")


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(rows)
def test_no_allow_rests_on_an_unknown_fact(row: Row) -> None:
    decision = decide(parse_request(request_for(row)), RULES)
    if decision.verdict is not Verdict.ALLOW:
        return
    unknown = {name for name, value in UNKNOWN.items() if getattr(row, name) == value}
    if decision.basis in (Basis.LICENSE_EXCEPTION_AIA, Basis.LICENSE_EXCEPTION_AIA_WEIGHTS):
        assert not unknown & set(PARTIES)
        assert row.designated == "y" or not unknown & {"published", "compute"}
    if decision.basis is Basis.LICENSED:
        assert row.dest != "?"
    if decision.basis is Basis.BELOW_THRESHOLD:
        assert row.compute == "below"
    if decision.basis is Basis.PUBLISHED:
        assert row.published == "T"


@settings(max_examples=200, deadline=None)
@given(rows)
def test_deterministic(row: Row) -> None:
    request = parse_request(request_for(row))
    assert decide(request, RULES) == decide(request, RULES)
