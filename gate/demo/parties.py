"""The demo's restricted-party screening: a tiny Consolidated Screening List and an officer's word.

The demo imports a four-entry list in the CSL's published JSON layout (made here, nothing is
downloaded), screens its recipients against it, and has a demo officer confirm the one hit that
is the listed party, so the table shows a `restricted_party` refusal next to the
`comprehensive_embargo` one (a recipient headquartered in Iran).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.screening.lists import parse_file
from gate.store import screening, screening_lists, screening_runs
from gate.store.db import Store

DEMO_OFFICER = "demo officer"
DEMO_LIST_SOURCE = "Weight Gate demo list (not the Consolidated Screening List)"
CONFIRMED = frozenset({"orion"})
"""Demo recipients (keys) whose hit the demo officer confirms as the listed party."""


def _entry(uid: str, name: str, country: str, source: str, **extra: Any) -> dict[str, Any]:
    """One entry in the published JSON layout (fields the demo does not use are null/empty)."""
    return {
        "id": uid,
        "source": source,
        "entity_number": None,
        "type": "Entity",
        "programs": extra.get("programs", []),
        "name": name,
        "title": None,
        "addresses": [
            {
                "address": extra.get("address", "1 Demo Street"),
                "city": extra.get("city"),
                "state": None,
                "postal_code": None,
                "country": country,
            }
        ],
        "federal_register_notice": extra.get("frn"),
        "start_date": extra.get("start_date", "2024-01-15"),
        "end_date": None,
        "remarks": None,
        "alt_names": extra.get("alt_names", []),
        "citizenships": [],
        "dates_of_birth": [],
        "nationalities": [],
        "places_of_birth": [],
        "source_information_url": None,
        "ids": [],
    }


ENTITY_LIST = "Entity List (EL) - Bureau of Industry and Security"
SDN = "Specially Designated Nationals (SDN) - Treasury Department"


def demo_list(list_date: date) -> dict[str, Any]:
    """The demo's screening list, dated `list_date`, as trade.gov publishes the JSON form."""
    day = list_date.isoformat()
    return {
        "total": 4,
        "results": [
            _entry(
                "demo-el-orion-1",
                "Orion Photonics Trading L.L.C.",
                "AE",
                ENTITY_LIST,
                city="Dubai",
                alt_names=["Orion Photonics"],
                frn="89 FR 00001",
            ),
            _entry("demo-el-vostok-1", "Vostok Microelectronics JSC", "RU", ENTITY_LIST),
            _entry(
                "demo-sdn-keystone-1", "Keystone Maritime Holdings", "KP", SDN, programs=["DPRK"]
            ),
            _entry("demo-el-argent-1", "Argent Compute Systems GmbH", "AT", ENTITY_LIST),
        ],
        "sources_used": [
            {"source": ENTITY_LIST, "source_last_updated": day, "last_imported": day},
            {"source": SDN, "source_last_updated": day, "last_imported": day},
        ],
    }


def refuse_another_list(store: Store, today: date) -> None:
    """InputError when the records hold a screening list that is not the demo's."""
    current = screening_lists.state(store, today).list
    if current is not None and current.source != DEMO_LIST_SOURCE:
        raise InputError(
            "demo",
            f"the records already hold a screening list ({current.source}, dated "
            f"{current.list_date}) that the demo's would replace: run the demo on its own "
            "database (unset GATE_DATABASE_URL)",
        )


def seed_screening(
    store: Store,
    folder: Path,
    recipient_ids: Mapping[str, str],
    *,
    threshold: float,
    today: date,
) -> None:
    """Import the demo list, screen the demo recipients, and confirm the listed party's hit.

    On a database another demo run already gave this list, the import adds nothing and screens
    nobody, so the recipients of this run are screened here. A database with another list (an
    operator's real one, through GATE_DATABASE_URL) is refused: the demo list would replace it.
    """
    refuse_another_list(store, today)
    path = folder / "consolidated.json"
    path.write_text(json.dumps(demo_list(today), indent=1), encoding="utf-8")
    imported = screening_runs.import_list(
        store,
        parse_file(path.name, path.read_bytes()),
        actor="gate demo",
        source=DEMO_LIST_SOURCE,
        file_name=path.name,
        threshold=threshold,
    )
    for key, recipient_id in recipient_ids.items():
        if imported.created:
            results = screening.list_results(store, recipient_id=recipient_id)
        else:
            results = (
                screening_runs.screen_recipient(
                    store, recipient_id, actor="gate demo", threshold=threshold
                )
                or []
            )
        if key not in CONFIRMED:
            continue
        for result in results:
            if result.status == "possible_match":
                screening.review(
                    store,
                    result.id,
                    decision="confirm",
                    reason="same name and address in Dubai as the Entity List entry",
                    officer=DEMO_OFFICER,
                )
