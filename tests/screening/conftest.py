"""A store over both databases (the `database_url` fixture) and the fixture lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.screening.lists import ParsedList, parse_json
from gate.store.db import Store, open_store

DATA = Path(__file__).parent / "data"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


def fixture_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "consolidated.json").read_text())
    return doc


def changed_list(uid: str, **changes: Any) -> ParsedList:
    """The JSON fixture with one entry changed."""
    doc = fixture_doc()
    for item in doc["results"]:
        if item["id"] == uid:
            item.update(changes)
    return parse_json(json.dumps(doc))


@pytest.fixture
def csl() -> ParsedList:
    return parse_json((DATA / "consolidated.json").read_text())
