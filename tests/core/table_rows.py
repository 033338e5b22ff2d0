"""Turn the decision table's short codes into the public request JSON, with real countries.

Countries per group: recipient headquarters A=DE, O=IN, E=CN; ultimate parent A=US, O=BR, E=RU;
transfer destination A=FR, O=BR, E=CN; a completed inquiry declares A=JP, O=IN, E=RU (always a
country other than the transfer's destination, so licenses never cover it).
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from tests.core.oracle import Row, expected

TABLE = Path(__file__).with_name("decision_table.csv")

HQ = {"A": "DE", "O": "IN", "E": "CN"}
PARENT = {"A": "US", "O": "BR", "E": "RU"}
DEST = {"A": "FR", "O": "BR", "E": "CN"}
DECLARED = {"A": "JP", "O": "IN", "E": "RU"}
COMPUTE: dict[str, dict[str, float | None]] = {
    "below": {"low": 1e24, "high": 5e25},
    "straddle": {"low": 4e25, "high": 2e26},
    "above": {"low": 1.2e26, "high": 3e26},
    "unknown": {"low": None, "high": None},
    "exact": {"low": 1e26, "high": 1e26},
    "lowonly": {"low": 3e25, "high": None},
}
RECIPIENT = "Table Recipient Ltd"
REPO = "table/model"


def _license(kind: str, dest: str | None) -> list[dict[str, Any]]:
    if kind == "none":
        return []
    lic: dict[str, Any] = {
        "number": f"T-{kind}",
        "recipient": RECIPIENT,
        "models": [REPO],
        "destinations": [dest or "FR"],
        "valid_until": "2027-01-01",
    }
    if kind == "eccn":
        lic["models"] = ["4E091"]
    elif kind == "wrong_recipient":
        lic["recipient"] = "Someone Else Ltd"
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
        parent = {"name": "Table Parent Inc", "headquarters": PARENT[row.parent]}
    attest = {"current": {"valid_until": "2026-12-31"}, "expired": {"valid_until": "2025-03-31"}}
    dest = None if row.dest == "?" else DEST[row.dest]
    inquiry: dict[str, Any] | None = None
    if row.inquiry == "open":
        inquiry = {"status": "open"}
    elif row.inquiry.startswith("done_"):
        inquiry = {"status": "completed", "declared_destinations": [DECLARED[row.inquiry[-1]]]}
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
            "headquarters": None if row.hq == "?" else HQ[row.hq],
            "ultimate_parent": parent,
            "security_attestation": attest.get(row.attest),
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
    # Headquarters x ultimate parent x destination, for a controlled model.
    for hq, parent, dest in itertools.product("AOE?", ["A", "O", "E", "?", "self"], "AOE?"):
        rows.append(Row(hq=hq, parent=parent, dest=dest, attest="current"))
    # Licenses of every kind x destination x headquarters.
    kinds = ["none", "cover", "wrong_recipient", "wrong_dest", "expired", "eccn", "not_yet"]
    for kind, dest, hq in itertools.product(kinds, "AOE?", "AOE"):
        rows.append(Row(license=kind, dest=dest, hq=hq, parent="self"))
    # Security attestation x parties x destination.
    for attest, hq, parent, dest in itertools.product(
        ["current", "expired", "none"], "AO", "AO", "AO"
    ):
        rows.append(Row(attest=attest, hq=hq, parent=parent, dest=dest))
    # Operator-trained x inquiry x parties x destination.
    for trained, inquiry, (hq, parent), dest in itertools.product(
        "yn",
        ["none", "open", "done_A", "done_O", "done_E"],
        [("A", "A"), ("A", "O"), ("O", "self"), ("A", "self"), ("A", "?")],
        "AO",
    ):
        rows.append(
            Row(trained=trained, inquiry=inquiry, hq=hq, parent=parent, dest=dest, attest="current")
        )
    # A completed inquiry next to a license; out-of-force dates; non-parameter files.
    for inquiry, kind in itertools.product(["none", "done_A", "done_O"], ["cover", "eccn"]):
        rows.append(Row(inquiry=inquiry, license=kind, hq="O", parent="self", dest="O"))
    for in_force, weights, dest in itertools.product("yn", "yn", "AE"):
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
        writer.writerow(["row", *names, "verdict", "basis"])
        for number, row in enumerate(table_rows(), start=1):
            verdict, basis = expected(row)
            writer.writerow([number, *asdict(row).values(), verdict, basis])


def read_table() -> list[tuple[int, Row, str, str]]:
    with TABLE.open(newline="") as handle:
        reader = csv.DictReader(handle)
        out = []
        for record in reader:
            number = int(record.pop("row"))
            verdict = record.pop("verdict")
            basis = record.pop("basis")
            out.append((number, Row(**record), verdict, basis))
        return out


if __name__ == "__main__":
    write_table()
