"""The real proxy with signed receipts, and the real huggingface_hub client with the plugin.

`ReceiptKeeper` is the proxy tests' `StoreKeeper` (the real store-backed gatekeeper over a
temporary SQLite store) whose receipts a test can spoil: knobs make the gate sign a bad receipt
(another recipient, file or commit, expired, an untrusted key) or none, to see the plugin
refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from huggingface_hub import set_client_factory
from huggingface_hub.utils import _http
from starlette.responses import JSONResponse
from starlette.routing import Route
from weight_gate_hf import uninstall

from gate.core.values import Decision, TransferRequest
from gate.crypto.keys import Signer, jwk
from gate.hub.local import LocalStore
from gate.server.app import create_app
from gate.service.gatekeeper import TransferContext
from tests.server.conftest import (
    Repos,
    ServerThread,
    StoreKeeper,
    build_store,
    default_facts,
    store_keeper,
)

ContextEdit = Callable[[TransferContext], TransferContext]


class ReceiptKeeper(StoreKeeper):
    """The real store-backed gatekeeper, signing receipts for allowed parameter files, with
    knobs to make it sign a bad receipt (another recipient, file or commit, expired, an untrusted
    key) or none, to see the plugin refuse it."""

    edit: ContextEdit | None = None
    """Change what the receipt says (a test making the gate sign the wrong thing)."""
    issued_offset: timedelta = timedelta(0)
    receipts: bool = True

    def sign_receipt(
        self,
        decision: Decision,
        decision_id: str,
        ctx: TransferContext,
        request: TransferRequest,
        now: datetime,
    ) -> dict[str, object] | None:
        if not self.receipts:
            return None
        signed = self.edit(ctx) if self.edit is not None else ctx
        return super().sign_receipt(
            decision, decision_id, signed, request, now + self.issued_offset
        )


def new_signer() -> Signer:
    return Signer.from_private_key(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture()
def signer() -> Signer:
    return new_signer()


@pytest.fixture()
def repos(tmp_path: Path) -> Repos:
    return build_store(tmp_path / "store")


@pytest.fixture()
def keeper(signer: Signer, tmp_path: Path) -> Iterator[ReceiptKeeper]:
    made = store_keeper(
        tmp_path / "records",
        default_facts(),
        keeper=ReceiptKeeper,
        signer=signer,
        receipt_ttl=timedelta(hours=1),
    )
    assert isinstance(made, ReceiptKeeper)
    yield made
    made.store.close()


def serve_keys(app: Any, jwks: Callable[[], dict[str, Any]]) -> None:
    """Serve a JWK set at /.well-known/gate-keys.json, ahead of the proxy's catch-all route.

    The proxy does not serve this route yet; the plugin's "endpoint" key mode is tested with it.
    """

    async def keys(_: Any) -> JSONResponse:
        return JSONResponse(jwks())

    app.router.routes.insert(0, Route("/.well-known/gate-keys.json", keys, methods=["GET"]))


@pytest.fixture()
def gate(repos: Repos, keeper: ReceiptKeeper) -> Iterator[ServerThread]:
    app = create_app(LocalStore(repos.root), keeper)
    assert keeper.signer is not None
    serve_keys(app, lambda: {"keys": [jwk(keeper.signer.public_key)] if keeper.signer else []})
    with ServerThread(app) as server:
        yield server


@pytest.fixture(autouse=True)
def reset_client() -> Iterator[None]:
    """Every test starts and ends with the stock client factory (no plugin installed)."""
    yield
    uninstall()
    set_client_factory(_http.default_client_factory)


def cached_files(cache: Path) -> list[str]:
    """Every file under the cache's repository folders (receipts and locks excluded)."""
    if not cache.exists():
        return []
    return sorted(
        p.relative_to(cache).as_posix()
        for p in cache.rglob("*")
        if (p.is_file() or p.is_symlink())
        and p.relative_to(cache).parts[0].startswith(("models--", "datasets--"))
        and "refs" not in p.relative_to(cache).parts
    )
