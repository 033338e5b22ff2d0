"""Building the proxy from settings: what `gate serve` (and `gate demo`) run.

The pieces are put together in one place, each failing with a clear message before the server
listens: the ruleset, the signing key (receipts and audit checkpoints), the records store, the
trusted declarer keys, the model source. A gate that cannot record or sign does not start.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from gate.hub.blob_cache import BlobCache
from gate.hub.cached_upstream import CachingSource
from gate.hub.local import LocalStore
from gate.hub.source import ModelSource
from gate.hub.upstream import UpstreamSource
from gate.networks import Network
from gate.server.app import create_app
from gate.server.metrics import Metrics, configure_json_logging
from gate.server.settings import ServeSettings
from gate.service.build import Service, build_service
from gate.service.records_gatekeeper import StoreGatekeeper
from gate.store.db import Store


def build_source(settings: ServeSettings) -> ModelSource:
    settings.check_source()
    if settings.store is not None:
        return LocalStore(settings.store, verify_max_age=settings.blob_reverify_seconds)
    assert settings.upstream is not None
    token = settings.upstream_token.get_secret_value() if settings.upstream_token else None
    upstream = UpstreamSource(
        settings.upstream,
        token,
        deadline=settings.upstream_deadline,
        per_repo=settings.upstream_repo_concurrency,
    )
    if settings.upstream_cache is None:
        return upstream
    cache = BlobCache(
        settings.upstream_cache,
        settings.upstream_cache_max_bytes,
        verify_max_age=settings.blob_reverify_seconds,
    )
    return CachingSource(upstream, cache)


@dataclass
class Gate:
    """A built gate: the app to serve and the service it holds open."""

    app: FastAPI
    service: Service

    @property
    def store(self) -> Store:
        return self.service.store

    @property
    def gatekeeper(self) -> StoreGatekeeper:
        return self.service.gatekeeper

    def close(self) -> None:
        self.service.close()


def app_for(
    service: Service,
    source: ModelSource,
    *,
    tree_page_size: int = 1000,
    trusted_proxies: tuple[Network, ...] = (),
) -> FastAPI:
    """The HTTP app in front of a built service."""
    return create_app(
        source,
        service.gatekeeper,
        tree_page_size=tree_page_size,
        facts=service.facts,
        jwks=service.jwks,
        signer=service.signer,
        # Records calls are what memory cannot answer (first sight, licenses, after a change):
        # several at once overlap their database waits (PostgreSQL's round trips), and their
        # appends still share the writer thread's transactions.
        records_concurrency=16,
        on_shutdown=service.shutdown,
        trusted_proxies=trusted_proxies,
    )


def build_gate(settings: ServeSettings, source: ModelSource | None = None) -> Gate:
    """The whole proxy over the records store named by the settings."""
    source = source or build_source(settings)
    service = build_service(settings, source)
    app = app_for(
        service,
        source,
        tree_page_size=settings.tree_page_size,
        trusted_proxies=settings.trusted_networks,
    )
    if settings.metrics_dir is not None:
        # Several workers: each leaves its counters where /metrics (in any worker) adds them up.
        app.state.gate.metrics = Metrics(shared_dir=settings.metrics_dir)
    return Gate(app, service)


def app_from_environment() -> FastAPI:
    """One worker's app, from `GATE_*` variables (`gate serve --workers N` sets them)."""
    settings = ServeSettings()
    configure_json_logging(settings.log_level)
    return build_gate(settings).app
