"""Settings of `gate serve`: the project's `Settings` plus where the models come from.

The serving fields extend the shared `gate.settings.Settings` in a subclass, so the records
commands do not carry options that only the server uses. Values come from `GATE_*` variables,
then a TOML config file (`GATE_CONFIG` or `--config`), then the command line, which wins.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator

from gate.errors import InputError
from gate.server.forwarded import Network, parse_networks
from gate.settings import Settings


class ServeSettings(Settings):
    store: Path | None = Field(default=None, description="HF-cache folder to serve (store mode).")
    upstream: str | None = Field(default=None, description="Hub-compatible URL to proxy.")
    upstream_token: SecretStr | None = Field(default=None, description="The gate's upstream token.")
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = Field(default="INFO", description="Log level of the JSON logs.")
    tree_page_size: int = Field(default=1000, ge=1, description="Entries per /tree page.")
    workers: int = Field(
        default=1, ge=1, le=64, description="Server processes (each decides; records shared)."
    )
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
            out[f"GATE_{name.upper()}"] = (
                json.dumps([str(v) for v in value]) if listed else str(value)
            )
        return out

    def check_source(self) -> None:
        if (self.store is None) == (self.upstream is None):
            raise InputError("source", "give exactly one of --store DIR and --upstream URL")


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
