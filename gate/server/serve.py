"""Building and running the proxy from settings (what `gate serve` does)."""

from __future__ import annotations

from gate.hub.local import LocalStore
from gate.hub.source import ModelSource
from gate.hub.upstream import UpstreamSource
from gate.server.gatekeeper import Gatekeeper
from gate.server.settings import ServeSettings


def build_source(settings: ServeSettings) -> ModelSource:
    settings.check_source()
    if settings.store is not None:
        return LocalStore(settings.store)
    assert settings.upstream is not None
    token = settings.upstream_token.get_secret_value() if settings.upstream_token else None
    return UpstreamSource(settings.upstream, token)


def build_gatekeeper(settings: ServeSettings) -> Gatekeeper:
    """The store-backed gatekeeper over `settings.effective_database_url`.

    PENDING (lead): wire gate.store (credentials, model facts, decide, audit chain, inquiries)
    behind the `Gatekeeper` protocol here. Until then `gate serve` refuses to start rather than
    serve without records.
    """
    from gate.errors import StoreError

    raise StoreError(
        "the store-backed gatekeeper is not wired yet (gate.server.serve.build_gatekeeper); "
        f"database {settings.effective_database_url!r} not opened"
    )
