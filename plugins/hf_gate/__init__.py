"""Weight Gate plugin for `huggingface_hub`: receipts checked, bytes hashed, cache re-verified.

    from plugins.hf_gate import install, verify_cache, load_verified
    install("https://gate.example", token="...", trusted_keys=["gate-key.pem"])

See docs/plugin.md. Importable on its own: it uses `gate.crypto`, `gate.core` and the shipped
ruleset's file patterns, never the gate's server, store or web framework.

Names are imported on first use, so `plugins.hf_gate.autoload` (run at interpreter start-up by
the optional `.pth` file) can set `HF_ENDPOINT` before anything imports `huggingface_hub`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugins.hf_gate.cache import CacheReport, load_verified, verify_cache
    from plugins.hf_gate.config import PluginConfig
    from plugins.hf_gate.errors import GateVerificationError
    from plugins.hf_gate.hook import activate, active, install, uninstall

_WHERE = {
    "CacheReport": "cache",
    "load_verified": "cache",
    "verify_cache": "cache",
    "PluginConfig": "config",
    "GateVerificationError": "errors",
    "activate": "hook",
    "active": "hook",
    "install": "hook",
    "uninstall": "hook",
}

__all__ = [
    "CacheReport",
    "GateVerificationError",
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
    return getattr(import_module(f"plugins.hf_gate.{module}"), name)
