"""The gate's settings: one pydantic-settings class read from `GATE_` environment variables.

Built once at an entry point (the CLI, the server) and passed down; nothing reads the environment
at import time, so tests and replicas can run side by side with different settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator configures through `GATE_*` variables (or a `.env` given by path)."""

    model_config = SettingsConfigDict(env_prefix="GATE_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./gate-data"), description="Where the default SQLite file and keys live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/gate.db. Use "
        "postgresql+psycopg://user@host:5432/db when several replicas share one record.",
    )
    mode: Literal["enforce", "shadow"] = Field(
        default="enforce",
        description="enforce: block what the decision blocks; shadow: record what would have "
        "been blocked and let it through.",
    )
    audit_checkpoint_every: int = Field(
        default=1000, ge=1, description="Sign a checkpoint of the audit chain every N entries."
    )
    audit_checkpoint_minutes: float = Field(
        default=10.0, gt=0, description="... or when this many minutes passed since the last one."
    )
    audit_witness_dir: Path | None = Field(
        default=None,
        description="A directory (ideally on another machine or medium) that receives every "
        "audit checkpoint as a line appended to audit-checkpoints.jsonl as it is made.",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="SQLite durability. NORMAL (WAL): a committed entry survives a killed process "
        "but the last commits may be lost on power failure; FULL: fsync on every commit.",
    )
    key_dir: Path | None = Field(
        default=None, description="Directory of the gate's signing keys; default <data_dir>/keys."
    )
    key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase of the signing key (never logged)."
    )
    ruleset: Path | None = Field(
        default=None, description="Ruleset TOML to decide under; default: the shipped one."
    )
    trusted_declarer_keys: list[Path] = Field(
        default_factory=list,
        description="PEM public keys whose signed compute declarations the gate trusts "
        "(GATE_TRUSTED_DECLARER_KEYS as a JSON list of paths).",
    )
    receipt_ttl_hours: float = Field(
        default=24.0, gt=0, description="How long a receipt vouches for a download."
    )

    @property
    def effective_database_url(self) -> str:
        """The database URL to open: the configured one, or the SQLite file in `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'gate.db'}"

    @property
    def effective_key_dir(self) -> Path:
        return self.key_dir if self.key_dir is not None else self.data_dir / "keys"
