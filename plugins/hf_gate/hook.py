"""Installing the plugin into `huggingface_hub`, by code or by environment variables alone.

Built on the client's public hook, `huggingface_hub.set_client_factory`: every `httpx2.Client`
the client makes from then on sends through `GateTransport`. The stock client's request hooks
(the offline guard, request ids, the download counter) are carried over from the client the
previous factory made, and the plugin adds its own offline guard in front, so `HF_HUB_OFFLINE=1`
still stops every request even if the carried-over hooks change shape in a later release.

Environment variables (read by `activate()`, never at import time):

    GATE_PLUGIN_ENDPOINT          the gate's URL; activation happens only when this is set
    GATE_PLUGIN_TOKEN             the recipient's token (falls back to HF_TOKEN / the stored token)
    GATE_PLUGIN_TRUSTED_KEYS      PEM files or folders, separated by commas, or `endpoint`
    GATE_PLUGIN_RECIPIENT_ID      pin the recipient id receipts must name (else: whoami)
    GATE_PLUGIN_REQUIRE_RECEIPTS  `1` (default) or `0`
    GATE_PLUGIN_CACHE_DIR         where receipts are kept (default: the client's HF_HUB_CACHE)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx2
import huggingface_hub
from huggingface_hub import constants, get_session, is_offline_mode, set_client_factory
from huggingface_hub.errors import OfflineModeIsEnabled

from plugins.hf_gate.config import KeySpec, PluginConfig
from plugins.hf_gate.errors import GateVerificationError
from plugins.hf_gate.transport import GateTransport

_LOCK = threading.Lock()
_ACTIVE: PluginConfig | None = None
_STOCK_HOOKS: list[Callable[..., Any]] | None = None


def _offline_guard(request: httpx2.Request) -> None:
    if is_offline_mode():
        raise OfflineModeIsEnabled(
            f"Cannot reach {request.url}: offline mode is enabled. To disable it, please unset"
            " the `HF_HUB_OFFLINE` environment variable."
        )


def _default_is_parameters() -> Callable[[str], bool]:
    from gate.rules.loader import load_default_ruleset

    return load_default_ruleset().is_parameters


def _plain_factory(hooks: list[Callable[..., Any]]) -> Callable[[], httpx2.Client]:
    def factory() -> httpx2.Client:
        return httpx2.Client(
            event_hooks={"request": list(hooks)}, follow_redirects=True, timeout=None
        )

    return factory


def install(
    endpoint: str,
    token: str | None = None,
    trusted_keys: KeySpec | None = None,
    require_receipts: bool = True,
    *,
    recipient_id: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    is_parameters: Callable[[str], bool] | None = None,
) -> PluginConfig:
    """Route `huggingface_hub`'s HTTP through the gate checks; returns the active settings.

    `endpoint`: the gate (point the client at it too: `HF_ENDPOINT` or `endpoint=`).
    `token`: the recipient's gate token, sent to the gate's origin only (default: the client's
    own token, `huggingface_hub.get_token()`). `trusted_keys`: PEM file/folder path(s), a key-id
    -> public key mapping, or `"endpoint"` (fetch the gate's JWK set once: trust on first use).
    `require_receipts`: refuse parameter files without a valid receipt. `recipient_id`: pin who
    receipts must name (default: the gate's `/api/whoami-v2`). `cache_dir`: the cache whose
    `gate-receipts/` folder keeps receipts (default: `HF_HUB_CACHE`). `is_parameters`: which
    paths are parameter files (default: the shipped ruleset's patterns, as the gate uses).
    Installing again replaces the previous installation.
    """
    global _ACTIVE, _STOCK_HOOKS
    if trusted_keys is None:
        raise GateVerificationError(
            "trusted_keys is required: PEM public key file(s) of the gate (strong), a key mapping,"
            ' or "endpoint" (fetched from the gate once: trust on first use)'
        )
    config = PluginConfig(
        endpoint=endpoint,
        token=token if token is not None else huggingface_hub.get_token(),
        trusted_keys=trusted_keys,
        require_receipts=require_receipts,
        cache_dir=Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE),
        is_parameters=is_parameters or _default_is_parameters(),
        recipient_id_pinned=recipient_id,
    )
    with _LOCK:
        if _STOCK_HOOKS is None:
            # The client the current (stock) factory makes tells which request hooks it runs.
            _STOCK_HOOKS = [
                hook for hook in get_session().event_hooks["request"] if hook is not _offline_guard
            ]
        hooks = [_offline_guard, *_STOCK_HOOKS]

        def factory() -> httpx2.Client:
            return httpx2.Client(
                transport=GateTransport(httpx2.HTTPTransport(), config),
                event_hooks={"request": list(hooks)},
                follow_redirects=True,
                timeout=None,
            )

        # set_client_factory closes the shared client, so the next request uses the new one.
        set_client_factory(factory)
        _ACTIVE = config
    return config


def uninstall() -> None:
    """Give the client back a plain factory with the stock request hooks."""
    global _ACTIVE
    with _LOCK:
        if _ACTIVE is None:
            return
        set_client_factory(_plain_factory(_STOCK_HOOKS or [_offline_guard]))
        _ACTIVE = None


def active() -> PluginConfig | None:
    """The installed plugin's settings, or None."""
    return _ACTIVE


def _truthy(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise GateVerificationError(f"{name}: expected 1 or 0, got {text!r}")


def activate(environ: Mapping[str, str] | None = None) -> PluginConfig | None:
    """Install from `GATE_PLUGIN_*` environment variables; None when GATE_PLUGIN_ENDPOINT is unset.

    A set endpoint without trusted keys is an error, not a silent no-op: someone meant the
    checks to run.
    """
    env = os.environ if environ is None else environ
    endpoint = env.get("GATE_PLUGIN_ENDPOINT", "").strip()
    if not endpoint:
        return None
    keys_text = env.get("GATE_PLUGIN_TRUSTED_KEYS", "").strip()
    if not keys_text:
        raise GateVerificationError(
            "GATE_PLUGIN_TRUSTED_KEYS is not set: comma-separated PEM files or folders, or"
            " `endpoint` (trust on first use)"
        )
    keys: KeySpec = (
        "endpoint"
        if keys_text == "endpoint"
        else [p.strip() for p in keys_text.split(",") if p.strip()]
    )
    return install(
        endpoint,
        token=env.get("GATE_PLUGIN_TOKEN") or None,
        trusted_keys=keys,
        require_receipts=_truthy(
            env.get("GATE_PLUGIN_REQUIRE_RECEIPTS", "1"), "GATE_PLUGIN_REQUIRE_RECEIPTS"
        ),
        recipient_id=env.get("GATE_PLUGIN_RECIPIENT_ID") or None,
        cache_dir=env.get("GATE_PLUGIN_CACHE_DIR") or None,
    )
