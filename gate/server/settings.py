"""Settings of `gate serve`: the project's `Settings` plus where the models come from.

The serving fields extend the shared `gate.settings.Settings` in a subclass, so the records
commands do not carry options that only the server uses. Values come from `GATE_*` variables,
then a TOML config file (`GATE_CONFIG` or `--config`), then the command line, which wins.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError

from gate.errors import InputError
from gate.settings import Settings


class ServeSettings(Settings):
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
        if self.workers is not None:
            return self.workers
        return default_workers()

    def to_environment(self) -> dict[str, str]:
        """These settings as `GATE_*` variables, so worker processes rebuild exactly them."""
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            listed = isinstance(value, list)
            out[f"GATE_{name.upper()}"] = (
                json.dumps([str(v) for v in value]) if listed else str(value)
            )
        return out

    def check_source(self) -> None:
        if (self.store is None) == (self.upstream is None):
            raise InputError("source", "give exactly one of --store DIR and --upstream URL")


def default_workers() -> int:
    """One server process per core available to this process, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def load_serve_settings(config: Path | None, overrides: dict[str, Any]) -> ServeSettings:
    """Environment, then the TOML file's `[serve]` table (or top level), then `overrides`."""
    file_values: dict[str, Any] = {}
    if config is not None:
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError("config", f"{config}: {exc}") from exc
        file_values = dict(data.get("serve", data))
    try:
        env = ServeSettings()
        merged = {**env.model_dump(exclude_unset=True), **file_values}
        merged.update({k: v for k, v in overrides.items() if v is not None})
        settings = ServeSettings.model_validate({**env.model_dump(), **merged})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(".".join(str(p) for p in first["loc"]), first["msg"]) from exc
    settings.check_source()
    return settings
