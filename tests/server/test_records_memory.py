"""A token answered from memory still stops at its revocation, on the very next request.

The real server over the real records: a recipient downloads (its token and records are then
kept in memory), the operator revokes the token or designates the model through another
connection to the same database, and the next request of each kind is refused.
"""

from __future__ import annotations

import httpx

from gate.store import credentials, models
from gate.store.db import Store, open_store
from tests.server.conftest import ServerThread, StoreKeeper

AUTH = {"Authorization": "Bearer tok-acme"}


def _operator(keeper: StoreKeeper) -> Store:
    return open_store(str(keeper.store.engine.url))


def test_revoked_token_is_refused_on_every_route(gate: ServerThread, keeper: StoreKeeper) -> None:
    url = f"{gate.url}/open/small/resolve/main/config.json"
    token = keeper.tokens["tok-acme"]
    for _ in range(3):
        assert httpx.get(url, headers=AUTH).status_code == 200
    operator = _operator(keeper)
    try:
        credentials.revoke(operator, token, actor="tests")
    finally:
        operator.close()
    assert httpx.get(url, headers=AUTH).status_code == 401
    assert httpx.head(url, headers=AUTH).status_code == 401
    weights = f"{gate.url}/open/small/resolve/main/model.safetensors"
    assert httpx.get(weights, headers=AUTH).status_code == 401
    tree = httpx.get(f"{gate.url}/api/models/open/small/tree/main", headers=AUTH)
    assert tree.status_code == 401


def test_designation_refuses_the_next_download(gate: ServerThread, keeper: StoreKeeper) -> None:
    url = f"{gate.url}/open/small/resolve/main/model.safetensors"
    dragon = {"Authorization": "Bearer tok-dragon"}
    for _ in range(3):
        assert httpx.get(url, headers=dragon).status_code == 200
    operator = _operator(keeper)
    try:
        models.designate(operator, "open/small", reason="is-informed letter", actor="tests")
    finally:
        operator.close()
    refused = httpx.get(url, headers=dragon)
    assert refused.status_code == 403
    assert "deny" in refused.headers["x-error-message"]
