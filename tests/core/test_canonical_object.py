"""`canonical_object` splices values encoded before into an object's canonical JSON: the bytes
must be exactly `canonical_json` of the whole object, whichever values were encoded before
(an audit entry's hash is computed over them, and `verify` recomputes it from the body)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gate.core.canonical import canonical_json, canonical_object

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    st.dictionaries(st.text(), _values, max_size=12),
    st.data(),
)
def test_spliced_bytes_are_the_canonical_json_of_the_whole(
    fields: dict[str, Any], data: st.DataObject
) -> None:
    chosen = data.draw(st.sets(st.sampled_from(sorted(fields))) if fields else st.just(set()))
    encoded = {key: canonical_json(fields[key]) for key in chosen}
    assert canonical_object(fields, encoded) == canonical_json(fields)


def test_a_decision_entry_shape() -> None:
    fields = {
        "request": {"recipient": {"id": "r-ü", "name": "Ünïcode Labs"}, "licenses": []},
        "decision": {"verdict": "allow", "facts": {"threshold": 1e26}},
        "decision_id": "dec_1",
        "allowed": True,
        "receipt": None,
        "would_have_blocked": False,
    }
    encoded = {k: canonical_json(fields[k]) for k in ("request", "decision")}
    assert canonical_object(fields, encoded) == canonical_json(fields)
