"""The gate's one configuration: every `GATE_*` setting, its default, and where values come from.

Every command reads the same sources, in this order (the first that sets a value wins):

1. a command-line flag (`gate serve --port`, `--db`, ...);
2. the `GATE_*` environment variable (`GATE_DATABASE_URL`, ...);
3. the TOML file named by `gate --config FILE` or `GATE_CONFIG` (top-level keys, and a
   `[serve]` table for the server's own keys; an unknown key is an error, since a misspelt
   `database_url` would otherwise open another set of records);
4. the default below.

So `gate recipients add` and `gate serve` always open the same records. `gate config show`
prints the effective values and the source of each (secrets masked). Settings are built at an
entry point and passed down; nothing reads the environment at import time.

`Settings` holds what every command uses; `ServeSettings` adds what only the server uses.
Environment variables outside these classes: `GATE_CONFIG` (the file itself),
`GATE_TEST_POSTGRES_URL` (the test suite), `GATE_PLUGIN_*` (the client plugin, its own package).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gate.errors import InputError
from gate.networks import Network, parse_networks
from gate.screening import DEFAULT_MAX_LIST_AGE_DAYS, DEFAULT_THRESHOLD

ENV_PREFIX = "GATE_"
CONFIG_ENV = "GATE_CONFIG"
OTHER_VARIABLES = ("GATE_CONFIG", "GATE_TEST_POSTGRES_URL")
"""`GATE_*` names that are not settings fields but are still known (not typos)."""
SERVE_TABLE = "serve"

_config_flag: ContextVar[Path | None] = ContextVar("gate_config_flag", default=None)


def use_config_file(path: Path | None) -> None:
    """Record `gate --config FILE` for this command (it takes precedence over GATE_CONFIG)."""
    _config_flag.set(path)


def config_file(environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The TOML file in use and what named it: ("flag" | "env" | "none")."""
    flagged = _config_flag.get()
    if flagged is not None:
        return flagged, "flag"
    text = (os.environ if environ is None else environ).get(CONFIG_ENV, "").strip()
    return (Path(text), "env") if text else (None, "none")


def read_config_file(path: Path, fields: Mapping[str, FieldInfo]) -> dict[str, Any]:
    """The file's values for `fields`: top-level keys, then the `[serve]` table over them."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError("config", f"cannot read {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError("config", f"{path}: not valid TOML ({exc})") from exc
    serve = data.get(SERVE_TABLE, {})
    if not isinstance(serve, dict):
        raise InputError("config", f"{path}: [{SERVE_TABLE}] must be a table")
    values = {k: v for k, v in data.items() if k != SERVE_TABLE}
    values.update(serve)
    known = set(ServeSettings.model_fields)
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(
            "config", f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    return {k: v for k, v in values.items() if k in fields}


class _ConfigFileSource(PydanticBaseSettingsSource):
    """pydantic-settings source for the TOML file (below the environment, above defaults)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        path, _ = config_file()
        if path is None:
            return {}
        return read_config_file(path, self.settings_cls.model_fields)


class Settings(BaseSettings):
    """Everything every command uses; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

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
        default=None,
        description="One ruleset TOML to decide under, as a set of one (GATE_RULESETS names a "
        "set; not both).",
    )
    rulesets: list[Path] | None = Field(
        default=None,
        description="The ruleset set to decide under, in order (GATE_RULESETS as a JSON list of "
        "TOML paths); default: the shipped set, ai-diffusion-2025 then ear-embargoes.",
    )
    screening_threshold: float = Field(
        default=DEFAULT_THRESHOLD,
        ge=0,
        le=100,
        description="Restricted-party screening: a name scoring this much (0-100) is a hit.",
    )
    screening_max_age_days: int = Field(
        default=DEFAULT_MAX_LIST_AGE_DAYS,
        ge=0,
        description="A screening list older than this many days is reported as stale "
        "(`gate serve` start-up, `gate screening status`).",
    )
    trusted_declarer_keys: list[Path] = Field(
        default_factory=list,
        description="PEM public keys whose signed compute declarations the gate trusts "
        "(GATE_TRUSTED_DECLARER_KEYS as a JSON list of paths).",
    )
    receipt_ttl_hours: float = Field(
        default=24.0, gt=0, description="How long a receipt vouches for a download."
    )
    publication_sources: list[str] = Field(
        default_factory=list,
        description="Hub URLs whose API the gate trusts to say a repository is public, ungated "
        "and openly licensed at a commit (GATE_PUBLICATION_SOURCES as a JSON list, e.g. "
        '["https://huggingface.co"]). None: publication comes only from the operator\'s records.',
    )
    publication_max_age_hours: float = Field(
        default=24.0, gt=0, description="Ask a publication source again after this many hours."
    )
    known_models: Path | None = Field(
        default=None,
        description="Table of known models' training compute (TOML); default: the shipped one.",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _input_error(exc) from exc
        if self.ruleset is not None and self.rulesets is not None:
            raise InputError(
                "rulesets",
                "both GATE_RULESET and GATE_RULESETS are set: name the set in GATE_RULESETS only "
                "(or one file in GATE_RULESET)",
            )
        if self.rulesets is not None and not self.rulesets:
            raise InputError(
                "rulesets", "GATE_RULESETS is an empty list: name at least one ruleset TOML"
            )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ConfigFileSource(settings_cls))

    @property
    def effective_database_url(self) -> str:
        """The database URL to open: the configured one, or the SQLite file in `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'gate.db'}"

    @property
    def ruleset_paths(self) -> list[Path] | None:
        """The ruleset files to decide under, in order; None: the shipped set."""
        if self.rulesets:
            return list(self.rulesets)
        return None if self.ruleset is None else [self.ruleset]

    @property
    def effective_key_dir(self) -> Path:
        return self.key_dir if self.key_dir is not None else self.data_dir / "keys"


def default_workers() -> int:
    """One server process per core available to this process, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


class ServeSettings(Settings):
    """`gate serve`'s settings: the shared ones plus where models come from and how to listen."""

    store: Path | None = Field(default=None, description="HF-cache folder to serve (store mode).")
    upstream: str | None = Field(default=None, description="Hub-compatible URL to proxy.")
    upstream_token: SecretStr | None = Field(default=None, description="The gate's upstream token.")
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = Field(default="INFO", description="Log level of the JSON logs.")
    tree_page_size: int = Field(default=1000, ge=1, description="Entries per /tree page.")
    workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Server processes (each decides; records shared). Default: one per core.",
    )
    console_port: int | None = Field(
        default=None, ge=0, le=65535, description="Serve the compliance console on this port."
    )
    console_host: str = Field(default="127.0.0.1", description="Address the console listens on.")
    console_secure_cookies: bool = Field(
        default=False, description="Mark console cookies Secure (behind a TLS-terminating proxy)."
    )
    blob_reverify_seconds: float = Field(
        default=24 * 3600.0,
        ge=0,
        description="A local blob verified longer ago than this is hashed again on its next"
        " download (0: hash every download).",
    )
    metrics_dir: Path | None = Field(
        default=None,
        description="Folder where each worker leaves its counters for /metrics to add up"
        " (set by `gate serve` for several workers).",
    )

    def worker_count(self) -> int:
        """`workers`, or one per core this process may run on (at most 8)."""
        return self.workers if self.workers is not None else default_workers()

    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or CIDR networks of reverse proxies whose "
        "Forwarded / X-Forwarded-For / X-Real-IP headers name the client; empty: none.",
    )
    upstream_deadline: float = Field(
        default=30.0, gt=0, description="Seconds an upstream metadata call may take in all."
    )
    upstream_repo_concurrency: int = Field(
        default=32, ge=1, description="Upstream calls in flight for one repository at most."
    )
    upstream_cache: Path | None = Field(
        default=None,
        description="Folder where whole files relayed from the upstream are kept, once their"
        " sha256 matched, for the next recipient (upstream mode only; default: off).",
    )
    upstream_cache_max_bytes: int = Field(
        default=100 * 1024**3,
        ge=1,
        description="Most bytes of blobs the upstream cache keeps; the least recently used go"
        " first (a larger file is relayed but not kept).",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, list):  # a TOML list in the config file
            value = ", ".join(str(v) for v in value)
        if isinstance(value, str):
            parse_networks(value)  # refuse a bad address at start-up, not on the first request
        return value

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    def to_environment(self) -> dict[str, str]:
        """These settings as `GATE_*` variables, so worker processes rebuild exactly them."""
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            listed = isinstance(value, list)
            out[f"{ENV_PREFIX}{name.upper()}"] = (
                json.dumps([str(v) for v in value]) if listed else str(value)
            )
        return out

    def check_source(self) -> None:
        if (self.store is None) == (self.upstream is None):
            raise InputError("source", "give exactly one of --store DIR and --upstream URL")
        if self.upstream_cache is not None and self.upstream is None:
            raise InputError(
                "upstream_cache", "the upstream cache needs --upstream URL (a store is local)"
            )


S = TypeVar("S", bound=Settings)


def _input_error(exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    name = ".".join(str(p) for p in first["loc"])
    return InputError(
        name, f"{first['msg']} (set by {ENV_PREFIX}{name.upper()}, the config file or a flag)"
    )


def load_settings(
    cls: type[S],
    *,
    config: Path | None = None,
    flags: Mapping[str, Any] | None = None,
) -> S:
    """Settings of class `cls` from flags, environment, the config file and defaults.

    `config` is a command's own `--config` (it wins over `gate --config` and GATE_CONFIG);
    `flags` are command-line values, None meaning "not given".
    """
    token = _config_flag.set(config) if config is not None else None
    try:
        return cls(**{k: v for k, v in (flags or {}).items() if v is not None})
    finally:
        if token is not None:
            _config_flag.reset(token)


def sources(
    settings: Settings,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Where each field's effective value came from: flag, env, file or default."""
    env = os.environ if environ is None else environ
    cls = type(settings)
    env_values = EnvSettingsSource(cls, case_sensitive=False, env_prefix=ENV_PREFIX)()
    path, _ = config_file(env)
    file_values = read_config_file(path, cls.model_fields) if path is not None else {}
    given = {k for k, v in (flags or {}).items() if v is not None}
    out: dict[str, str] = {}
    for name in cls.model_fields:
        if name in given:
            out[name] = "flag"
        elif name in env_values:
            out[name] = "env"
        elif name in file_values:
            out[name] = "file"
        else:
            out[name] = "default"
    return out


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """`GATE_*` variables that name no setting (typos): the gate ignores them."""
    env = os.environ if environ is None else environ
    known = {f"{ENV_PREFIX}{n.upper()}" for n in ServeSettings.model_fields}
    return sorted(
        k
        for k in env
        if k.upper().startswith(ENV_PREFIX)
        and k.upper() not in known
        and k.upper() not in OTHER_VARIABLES
        and not k.upper().startswith("GATE_PLUGIN_")
    )
