"""Settings of `gate serve`. The fields live in `gate.settings` (the one configuration module);
this module keeps the server's names and its loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gate.settings import ServeSettings, load_settings

__all__ = ["ServeSettings", "load_serve_settings"]


def load_serve_settings(config: Path | None, overrides: dict[str, Any]) -> ServeSettings:
    """Flags (`overrides`, None = not given), then GATE_* variables, then the config file."""
    settings = load_settings(ServeSettings, config=config, flags=overrides)
    settings.check_source()
    return settings
