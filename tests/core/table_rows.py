"""Turn the decision table's short codes into the public request JSON, with real places.

Places per role (see tests/core/oracle.py for the codes): each role uses its own countries, so a
declared destination is always another place than the transfer's own; the countries differ per
role but every code means one kind of place for both rulesets.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from tests.core.oracle import Row, expected, expected_4e091, expected_embargoes

TABLE = Path(__file__).with_name("decision_table.csv")

HQ = {"A": "DE", "U": "US", "P": "PR", "O": "IN", "R": "UA-43", "E": "CN", "H": "HK", "I": "IR"}
PARENT = {"A": "GB", "U": "US", "P": "PR", "O": "BR", "R": "UA-43", "E": "CN", "H": "HK", "I": "RU"}
DEST = {"A": "FR", "U": "US", "P": "PR", "O": "BR", "R": "UA-43", "E": "CN", "H": "HK", "I": "KP"}
DECLARED = {
    "A": "JP",
    "U": "GU",
    "P": "VI",
    "O": "IN",
    "R": "UA-40",
    "E": "MO",
    "H": "HK",
    "I": "CU",
}
COMPUTE: dict[str, dict[str, float | None]] = {
    "below": {"low": 1e24, "high": 5e25},
    "straddle": {"low": 4e25, "high": 2e26},
    "above": {"low": 1.2e26, "high": 3e26},
    "unknown": {"low": None, "high": None},
    "exact": {"low": 1e26, "high": 1e26},
    "lowonly": {"low": 3e25, "high": None},
}
RECIPIENT = "Table Recipient Ltd"
RECIPIENT_ID = "table-recipient"
REPO = "table/model"
SCREENING = {"clear": "clear", "possible": "possible_match", "match": "match", "none": None}
PLACES = ["A", "U", "P", "O", "R", "E", "H", "I"]


def _license(kind: str, dest: str | None) -> list[dict[str, Any]]:
    if kind == "none":
        return []
    lic: dict[str, Any] = {
        "number": f"T-{kind}",
        "recipient": RECIPIENT_ID,
        "models": [REPO],
        "destinations": [dest or "FR"],
        "valid_until": "2027-01-01",
    }
    if kind == "eccn":
        lic["models"] = ["4E091"]
    elif kind == "by_name":
        lic["recipient"] = RECIPIENT
    elif kind == "wrong_dest":
        lic["destinations"] = ["ZA"]
    elif kind == "expired":
        lic["valid_until"] = "2025-01-31"
    elif kind == "not_yet":
        lic["valid_from"] = "2025-07-01"
    return [lic]


def request_for(row: Row) -> dict[str, Any]:
    parent: Any
    if row.parent == "self":
        parent = "self"
    elif row.parent == "?":
        parent = None
    else:
        parent = {
            "name": "Table Parent Inc",
            "headquarters": PARENT[row.parent],
            "screening": SCREENING[row.parent_screening],
        }
    attest = {"current": {"valid_until": "2026-12-31"}, "expired": {"valid_until": "2025-03-31"}}
    dest = None if row.dest == "?" else DEST[row.dest]
    inquiry: dict[str, Any] | None = None
    if row.inquiry != "none":
        state, _, place = row.inquiry.partition("_")
        inquiry = {"status": "completed" if state == "done" else "open"}
        if place:
            inquiry["declared_destinations"] = [DECLARED[place]]
    published = {"T": True, "F": False, "?": None}[row.published]
    return {
        "date": "2025-06-01" if row.in_force == "y" else "2025-04-01",
        "file": "model-00001-of-00002.safetensors" if row.weights == "y" else "tokenizer.json",
        "model": {
            "repo_id": REPO,
            "designated": row.designated == "y",
            "published": published,
            "training_compute": COMPUTE[row.compute],
        },
        "recipient": {
            "name": RECIPIENT,
            "id": RECIPIENT_ID,
            "headquarters": None if row.hq == "?" else HQ[row.hq],
            "ultimate_parent": parent,
            "security_attestation": attest.get(row.attest),
            "screening": SCREENING[row.screening],
        },
        "destination": dest,
        "trained_on_operator_infrastructure": row.trained == "y",
        "inquiry": inquiry,
        "licenses": _license(row.license, dest),
    }


def table_rows() -> list[Row]:
    """The rows of the table: blocks that each span one family of facts."""
    rows: list[Row] = []
    # Publication x compute x designation.
    for pub, compute, designated in itertools.product("TF?", COMPUTE, "ny"):
        rows.append(
            Row(published=pub, compute=compute, designated=designated, dest="O", attest="current")
        )
    # Headquarters x ultimate parent x destination, for a controlled model: every kind of place
    # (Hong Kong, Puerto Rico, the United States, a region code, Iran) in every role.
    for hq, parent, dest in itertools.product(
        ["A", "U", "O", "H", "I", "?"], ["A", "P", "O", "E", "H", "R", "?", "self"], [*PLACES, "?"]
    ):
        rows.append(Row(hq=hq, parent=parent, dest=dest, attest="current"))
    # Licenses of every kind x destination x headquarters.
    kinds = ["none", "cover", "by_name", "wrong_dest", "expired", "eccn", "not_yet"]
    for kind, dest, hq in itertools.product(kinds, ["A", "O", "E", "R", "I", "U", "?"], "AOE"):
        rows.append(Row(license=kind, dest=dest, hq=hq, parent="self"))
    # Security attestation x parties x destination.
    for attest, hq, parent, dest in itertools.product(
        ["current", "expired", "none"], "AO", "AO", "AOP"
    ):
        rows.append(Row(attest=attest, hq=hq, parent=parent, dest=dest))
    # Operator-trained x inquiry (open or completed, declaring any kind of place) x parties x
    # destination, the domestic transfers (US, PR) included.
    inquiries = ["none", "open", *(f"{s}_{p}" for s in ("open", "done") for p in "AUOEI")]
    for trained, inquiry, (hq, parent), dest in itertools.product(
        "yn",
        inquiries,
        [("A", "A"), ("A", "O"), ("O", "self"), ("U", "self"), ("A", "?"), ("U", "H")],
        "AOUP",
    ):
        rows.append(
            Row(trained=trained, inquiry=inquiry, hq=hq, parent=parent, dest=dest, attest="current")
        )
    # A declaring inquiry next to a license; out-of-force dates; non-parameter files.
    for inquiry, kind in itertools.product(
        ["none", "done_A", "done_O", "open_I"], ["cover", "eccn"]
    ):
        rows.append(Row(inquiry=inquiry, license=kind, hq="O", parent="self", dest="O"))
    for in_force, weights, dest in itertools.product("yn", "yn", "AEI"):
        rows.append(
            Row(
                in_force=in_force,
                weights=weights,
                dest=dest,
                published="?",
                compute="unknown",
                hq="E",
            )
        )
    # Below the threshold or published, to comprehensively embargoed places and parties.
    for pub, compute, place in itertools.product("TF?", ["below", "above"], ["I", "R", "O"]):
        rows.append(Row(published=pub, compute=compute, dest=place, hq="O", parent="self"))
        rows.append(Row(published=pub, compute=compute, dest="O", hq="O", parent=place))
    # Restricted-party screening of recipient and parent x the other facts that tie with it.
    statuses = ["clear", "possible", "match", "none"]
    for screening, parent_screening, parent, (pub, compute) in itertools.product(
        statuses, statuses, ["A", "self", "?"], [("F", "above"), ("F", "below"), ("T", "below")]
    ):
        rows.append(
            Row(
                screening=screening,
                parent_screening=parent_screening,
                parent=parent,
                published=pub,
                compute=compute,
                attest="current",
            )
        )
    for screening, dest, hq in itertools.product(["possible", "match"], ["E", "I", "?", "O"], "AO"):
        rows.append(Row(screening=screening, dest=dest, hq=hq, compute="below", parent="self"))
    unique: list[Row] = []
    for row in rows:
        if row not in unique:
            unique.append(row)
    return unique


def write_table() -> None:
    """Regenerate decision_table.csv (run by hand; review the diff like any other change)."""
    names = [f.name for f in fields(Row)]
    with TABLE.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", *names, "verdict", "basis", "ai_diffusion", "ear_embargoes"])
        for number, row in enumerate(table_rows(), start=1):
            verdict, basis = expected(row)
            own = [":".join(expected_4e091(row)), ":".join(expected_embargoes(row))]
            writer.writerow([number, *asdict(row).values(), verdict, basis, *own])


Expected = tuple[int, Row, str, str, tuple[tuple[str, str], tuple[str, str]]]


def read_table() -> list[Expected]:
    """(row number, row, verdict, basis, each ruleset's own (verdict, basis)) per line."""
    with TABLE.open(newline="") as handle:
        reader = csv.DictReader(handle)
        out = []
        for record in reader:
            number = int(record.pop("row"))
            verdict = record.pop("verdict")
            basis = record.pop("basis")
            first = tuple(record.pop("ai_diffusion").split(":"))
            second = tuple(record.pop("ear_embargoes").split(":"))
            own = ((first[0], first[1]), (second[0], second[1]))
            out.append((number, Row(**record), verdict, basis, own))
        return out


if __name__ == "__main__":
    write_table()
