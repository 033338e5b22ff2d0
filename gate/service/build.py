"""Building the service from settings: the pieces `gate serve`, `gate demo` and the tests share.

Each piece fails with a clear message before anything listens: the ruleset set, the signing key
(receipts and audit checkpoints), the records store, the trusted declarer keys. A gate that
cannot record or sign does not start. `startup_lines` says what a started gate decides under and
warns when restricted-party screening is off or its list is stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from gate.core.procedure import PROCEDURE_VERSION
from gate.core.ruleset import Ruleset
from gate.core.ruleset_set import RulesetSet
from gate.core.values import ComputeInterval, ModelFacts
from gate.crypto.keys import KeyRing, Signer, load_public_keys
from gate.hub.publication_sources import PublicationSources
from gate.hub.source import ModelSource
from gate.rules.known_models import KnownModels, load_default_known_models, load_known_models
from gate.rules.loader import load_default_ruleset
from gate.service.classifying import ModelFactsProvider
from gate.service.gatekeeper import Mode
from gate.service.records_gatekeeper import StoreGatekeeper
from gate.settings import Settings
from gate.store import models, screening_lists
from gate.store.chain import Checkpointer
from gate.store.db import Store
from gate.wiring import open_records, require_signer, ruleset_set


@dataclass
class Service:
    """A built service over one records store: what the HTTP layer is given."""

    store: Store
    rulesets: RulesetSet
    signer: Signer
    gatekeeper: StoreGatekeeper
    facts: ModelFactsProvider
    jwks: dict[str, object]
    checkpointer: Checkpointer

    @property
    def mode(self) -> Mode:
        return self.gatekeeper.mode

    @property
    def ruleset(self) -> Ruleset:
        """The 4E091 ruleset the classifier reads (threshold, compute rules, open licenses)."""
        return classification_ruleset(self.rulesets)

    def shutdown(self) -> None:
        """Sign the audit checkpoint due at shutdown (idempotent); the store stays open."""
        self.checkpointer.stop()

    def close(self) -> None:
        self.shutdown()
        self.store.close()


def classification_ruleset(rulesets: RulesetSet) -> Ruleset:
    """The set's first 4E091 ruleset; the shipped one when the set has none (the classifier
    still needs compute rules, though no ruleset of the set then reads its facts)."""
    return rulesets.export_ruleset or load_default_ruleset()


def facts_provider(
    store: Store,
    source: ModelSource,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    known_models: KnownModels | None = None,
    publication: PublicationSources | None = None,
) -> ModelFactsProvider:
    """Classifies each commit once through `source`, kept in the records store; a named base's
    compute from the records, the known-models table, or the same source; publication from the
    configured publication sources."""
    return ModelFactsProvider(
        source,
        ruleset,
        load=lambda repo_id, commit: models.get_classification(store, repo_id, commit),
        save=lambda found: models.record_classification(store, found),
        trusted_declarers=trusted_declarers,
        known_models=known_models,
        recorded=lambda repo_id: recorded_compute(store, repo_id),
        publication=publication,
    )


def recorded_compute(store: Store, repo_id: str) -> ComputeInterval | None:
    """The operator's recorded training compute for a repository (all commits), if any."""
    with store.read() as conn:
        facts = models.fold_in(conn, ModelFacts(repo_id=repo_id))
    return facts.training_compute if facts.training_compute.method == "recorded" else None


def publication_sources(settings: Settings) -> PublicationSources | None:
    """The hubs the settings trust for publication (None when none is configured)."""
    if not settings.publication_sources:
        return None
    return PublicationSources(
        settings.publication_sources,
        max_age=timedelta(hours=settings.publication_max_age_hours),
    )


def known_models(settings: Settings) -> KnownModels:
    """The table of known models the settings name, else the shipped one."""
    if settings.known_models is None:
        return load_default_known_models()
    return load_known_models(settings.known_models)


def build_service(settings: Settings, source: ModelSource) -> Service:
    """The store-backed service the settings name, classifying through `source`."""
    rulesets = ruleset_set(settings)
    signer = require_signer(settings)
    ring = KeyRing(settings.effective_key_dir)
    trusted = load_public_keys(settings.trusted_declarer_keys)
    store = open_records(settings, signer)
    gatekeeper = StoreGatekeeper(
        store,
        rulesets,
        signer=signer,
        mode=settings.mode,
        receipt_ttl=timedelta(hours=settings.receipt_ttl_hours),
    )
    facts = facts_provider(
        store,
        source,
        classification_ruleset(rulesets),
        trusted,
        known_models=known_models(settings),
        publication=publication_sources(settings),
    )
    # Checkpoints at the configured cadence while anything waits uncovered, and at shutdown;
    # starting covers what a previous run (a crash) left uncovered.
    checkpointer = Checkpointer(store)
    checkpointer.start()
    return Service(store, rulesets, signer, gatekeeper, facts, ring.jwks(), checkpointer)


def startup_lines(service: Service, settings: Settings, today: date) -> list[str]:
    """What `gate serve` prints at start: each ruleset of the set (id, sha256, in order), the
    procedure version, and a `warning:` line when screening is off or its list is stale."""
    lines = [f"deciding under {len(service.rulesets)} ruleset(s), the most restrictive wins:"]
    for position, member in enumerate(service.rulesets, 1):
        lines.append(f"  {position}. {member.id} sha256:{member.sha256}")
    lines.append(f"procedure version {PROCEDURE_VERSION}")
    state = screening_lists.state(
        service.store, today, max_age_days=settings.screening_max_age_days
    )
    warning = state.warning()
    if warning is not None:
        lines.append(f"warning: {warning}")
    elif state.list is not None:
        lines.append(
            f"screening: on, list dated {state.list.list_date} ({state.age_days} days old), "
            f"{state.list.entry_count} entries"
        )
    return lines
