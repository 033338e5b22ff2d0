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
    GATE_PLUGIN_NON_PARAMETER_FILES  comma-separated base-name patterns of files that are not
                                  parameters (default: the list shipped with the plugin)

`block(reason)` is the fail-closed state: every request of the client raises `GateSettingsError`
with the reason, until `install` or `activate` succeeds. Autoload uses it when the settings are
wrong, because Python's `site` prints and then ignores an exception raised from a `.pth` line.
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

from weight_gate_hf.config import KeySpec, PluginConfig
from weight_gate_hf.errors import GateSettingsError
from weight_gate_hf.files import parameter_test
from weight_gate_hf.transport import GateTransport

SETTINGS = (
    "GATE_PLUGIN_ENDPOINT",
    "GATE_PLUGIN_TOKEN",
    "GATE_PLUGIN_TRUSTED_KEYS",
    "GATE_PLUGIN_RECIPIENT_ID",
    "GATE_PLUGIN_REQUIRE_RECEIPTS",
    "GATE_PLUGIN_CACHE_DIR",
    "GATE_PLUGIN_NON_PARAMETER_FILES",
)
"""Every environment variable the plugin reads; any other `GATE_PLUGIN_*` name is a typo."""

_LOCK = threading.Lock()
_ACTIVE: PluginConfig | None = None
_STOCK_HOOKS: list[Callable[..., Any]] | None = None


def _offline_guard(request: httpx2.Request) -> None:
    if is_offline_mode():
        raise OfflineModeIsEnabled(
            f"Cannot reach {request.url}: offline mode is enabled. To disable it, please unset"
            " the `HF_HUB_OFFLINE` environment variable."
        )


class _BlockingTransport(httpx2.BaseTransport):
    """Refuses every request: the plugin was meant to run but its settings are wrong."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        raise GateSettingsError(
            f"Weight Gate plugin is not working, so {request.url} was not requested: "
            f"{self.reason}. Fix the setting (or unset GATE_PLUGIN_ENDPOINT and the other"
            " GATE_PLUGIN_* variables to run without the gate)"
        )


def block(reason: str) -> None:
    """Make every `huggingface_hub` request raise `GateSettingsError(reason)` until installed."""
    global _ACTIVE
    with _LOCK:
        set_client_factory(lambda: httpx2.Client(transport=_BlockingTransport(reason)))
        _ACTIVE = None


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
    paths are parameter files (default: every file except the base-name patterns of
    `non_parameter_files.json`, the shipped ruleset's "not parameters" list: fail closed).
    Installing again replaces the previous installation.
    """
    global _ACTIVE, _STOCK_HOOKS
    if trusted_keys is None:
        raise GateSettingsError(
            "trusted_keys is required: PEM public key file(s) of the gate (strong), a key mapping,"
            ' or "endpoint" (fetched from the gate once: trust on first use)'
        )
    config = PluginConfig(
        endpoint=endpoint,
        token=token if token is not None else huggingface_hub.get_token(),
        trusted_keys=trusted_keys,
        require_receipts=require_receipts,
        cache_dir=Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE),
        is_parameters=is_parameters or parameter_test(),
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
    raise GateSettingsError(f"{name}: expected 1 or 0, got {text!r}")


def activate(environ: Mapping[str, str] | None = None) -> PluginConfig | None:
    """Install from `GATE_PLUGIN_*` environment variables; None when GATE_PLUGIN_ENDPOINT is unset.

    A set endpoint without trusted keys is an error, not a silent no-op: someone meant the
    checks to run.
    """
    env = os.environ if environ is None else environ
    unknown = sorted(k for k in env if k.startswith("GATE_PLUGIN_") and k not in SETTINGS)
    if unknown:
        raise GateSettingsError(
            f"{unknown[0]} is not a Weight Gate plugin setting (known: {', '.join(SETTINGS)})"
        )
    endpoint = env.get("GATE_PLUGIN_ENDPOINT", "").strip()
    if not endpoint:
        others = [k for k in SETTINGS if env.get(k, "").strip()]
        if others:
            # Someone configured the plugin and forgot the one variable that turns it on.
            raise GateSettingsError(f"GATE_PLUGIN_ENDPOINT is not set, but {others[0]} is")
        return None
    keys_text = env.get("GATE_PLUGIN_TRUSTED_KEYS", "").strip()
    if not keys_text:
        raise GateSettingsError(
            "GATE_PLUGIN_TRUSTED_KEYS is not set: comma-separated PEM files or folders, or"
            " `endpoint` (trust on first use)"
        )
    keys: KeySpec = (
        "endpoint"
        if keys_text == "endpoint"
        else [p.strip() for p in keys_text.split(",") if p.strip()]
    )
    patterns_text = env.get("GATE_PLUGIN_NON_PARAMETER_FILES")
    patterns = (
        None
        if patterns_text is None
        else [p.strip() for p in patterns_text.split(",") if p.strip()]
    )
    try:
        is_parameters = parameter_test(patterns)
    except GateSettingsError as exc:
        raise GateSettingsError(f"GATE_PLUGIN_NON_PARAMETER_FILES: {exc}") from exc
    try:
        return _install_from_env(env, endpoint, keys, is_parameters)
    except GateSettingsError as exc:
        message = str(exc)
        if message.startswith("trusted_keys"):
            message = "GATE_PLUGIN_TRUSTED_KEYS" + message.removeprefix("trusted_keys")
        elif message.startswith("endpoint"):
            message = "GATE_PLUGIN_ENDPOINT" + message.removeprefix("endpoint")
        raise GateSettingsError(message) from exc


def _install_from_env(
    env: Mapping[str, str],
    endpoint: str,
    keys: KeySpec,
    is_parameters: Callable[[str], bool],
) -> PluginConfig:
    return install(
        endpoint,
        token=env.get("GATE_PLUGIN_TOKEN") or None,
        trusted_keys=keys,
        require_receipts=_truthy(
            env.get("GATE_PLUGIN_REQUIRE_RECEIPTS", "1"), "GATE_PLUGIN_REQUIRE_RECEIPTS"
        ),
        recipient_id=env.get("GATE_PLUGIN_RECIPIENT_ID") or None,
        cache_dir=env.get("GATE_PLUGIN_CACHE_DIR") or None,
        is_parameters=is_parameters,
    )
