"""The real proxy with signed receipts, and the real huggingface_hub client with the plugin.

`ReceiptKeeper` is the proxy tests' `MemoryGatekeeper` (the real decision procedure) whose
`check()` adds `X-Gate-Receipt` through `gate.server.receipting`, the function every gatekeeper
calls. Knobs let a test make the gate sign a bad receipt (another recipient, file or commit,
expired, an untrusted key) or none, to see the plugin refuse it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from huggingface_hub import set_client_factory
from huggingface_hub.utils import _http
from starlette.responses import JSONResponse
from starlette.routing import Route
from weight_gate_hf import uninstall

from gate.crypto.keys import Signer, jwk
from gate.hub.local import LocalStore
from gate.rules.loader import load_default_ruleset
from gate.server.app import create_app
from gate.server.gatekeeper import GateAnswer, TransferContext
from gate.server.receipting import receipt_envelope, receipt_headers, wants_receipt
from tests.server.conftest import (
    MemoryGatekeeper,
    Repos,
    ServerThread,
    build_store,
    default_accounts,
    default_facts,
)

ContextEdit = Callable[[TransferContext], TransferContext]


@dataclasses.dataclass
class ReceiptKeeper(MemoryGatekeeper):
    """A MemoryGatekeeper that signs receipts for allowed parameter files."""

    signer: Signer | None = None
    ttl: timedelta = timedelta(hours=1)
    issued_offset: timedelta = timedelta(0)
    edit: ContextEdit | None = None
    """Change what the receipt says (a test making the gate sign the wrong thing)."""
    receipts: bool = True

    def check(self, ctx: TransferContext) -> GateAnswer:
        answer = super().check(ctx)
        decision = next(d for i, _, d in self.decisions if i == answer.decision_id)
        if not (self.receipts and wants_receipt(decision, ctx)):
            return answer
        assert self.signer is not None
        signed_ctx = self.edit(ctx) if self.edit is not None else ctx
        envelope = receipt_envelope(
            decision,
            answer.decision_id,
            signed_ctx,
            self.signer,
            recipient_name=ctx.caller.name,
            destination=ctx.destination,
            declaration_id=None,
            now=datetime.now(UTC) + self.issued_offset,
            ttl=self.ttl,
        )
        return dataclasses.replace(answer, headers={**answer.headers, **receipt_headers(envelope)})


def new_signer() -> Signer:
    return Signer.from_private_key(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture()
def signer() -> Signer:
    return new_signer()


@pytest.fixture()
def repos(tmp_path: Path) -> Repos:
    return build_store(tmp_path / "store")


@pytest.fixture()
def keeper(signer: Signer) -> ReceiptKeeper:
    return ReceiptKeeper(load_default_ruleset(), default_accounts(), default_facts(), signer=signer)


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
