"""Opening what the settings name: the signing key, the records store and the ruleset set (CLI and
server alike)."""

from __future__ import annotations

from gate.core.ruleset_set import RulesetSet
from gate.crypto.keys import KeyRing, Signer
from gate.errors import SignatureError
from gate.rules.loader import load_ruleset_set
from gate.settings import Settings
from gate.store.db import CheckpointPolicy, Store, open_store


def require_signer(settings: Settings) -> Signer:
    """The gate's active signing key: a gate must not hand out weights it cannot vouch for."""
    ring = KeyRing(settings.effective_key_dir)
    if not ring.initialized:
        raise SignatureError(
            f"no signing key in {settings.effective_key_dir}: run `gate keys init` first"
        )
    secret = settings.key_passphrase.get_secret_value() if settings.key_passphrase else None
    return ring.active_signer(secret)


def optional_signer(settings: Settings) -> Signer | None:
    """The signing key when a key ring exists and its passphrase is set (the records CLI signs
    audit checkpoints with it then), else None."""
    if settings.key_passphrase is None or not KeyRing(settings.effective_key_dir).initialized:
        return None
    return require_signer(settings)


def open_records(
    settings: Settings, signer: Signer | None, database_url: str | None = None
) -> Store:
    """The records store the settings name (or `database_url`), checkpoints signed by `signer`."""
    return open_store(
        database_url or settings.effective_database_url,
        signer=signer,
        checkpoints=CheckpointPolicy(
            every=settings.audit_checkpoint_every,
            minutes=settings.audit_checkpoint_minutes,
            witness_dir=settings.audit_witness_dir,
        ),
        sqlite_synchronous=settings.sqlite_synchronous,
    )


def ruleset_set(settings: Settings) -> RulesetSet:
    """The ruleset set the settings name: GATE_RULESETS, GATE_RULESET as a set of one, else the
    shipped set. RulesetError when a file is unreadable or invalid."""
    return load_ruleset_set(settings.ruleset_paths)
