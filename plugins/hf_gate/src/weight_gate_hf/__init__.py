"""Weight Gate plugin for `huggingface_hub`: receipts checked, bytes hashed, cache re-verified.

    from weight_gate_hf import install, verify_cache, load_verified
    install("https://gate.example", token="...", trusted_keys=["gate-key.pem"])

See docs/plugin.md. Its own distribution (`weight-gate-hf`): it depends on `huggingface_hub`
and `cryptography` only, never on the gate itself.

Names are imported on first use, so `weight_gate_hf.autoload` (run at interpreter start-up by
the optional `.pth` file) can set `HF_ENDPOINT` before anything imports `huggingface_hub`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weight_gate_hf.cache import CacheReport, load_verified, verify_cache
    from weight_gate_hf.config import PluginConfig
    from weight_gate_hf.errors import GateSettingsError, GateVerificationError, NotInCacheError
    from weight_gate_hf.hook import activate, active, install, uninstall

_WHERE = {
    "CacheReport": "cache",
    "load_verified": "cache",
    "verify_cache": "cache",
    "PluginConfig": "config",
    "GateVerificationError": "errors",
    "GateSettingsError": "errors",
    "NotInCacheError": "errors",
    "activate": "hook",
    "active": "hook",
    "install": "hook",
    "uninstall": "hook",
}

__version__ = "0.1.0"

__all__ = [
    "CacheReport",
    "GateSettingsError",
    "GateVerificationError",
    "NotInCacheError",
    "PluginConfig",
    "activate",
    "active",
    "install",
    "load_verified",
    "uninstall",
    "verify_cache",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"weight_gate_hf.{module}"), name)
