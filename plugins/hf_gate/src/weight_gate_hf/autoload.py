"""Activation at interpreter start-up, by environment variables alone.

`python -m weight_gate_hf enable-autoload` writes `weight_gate_hf.pth` into the environment's
site-packages; Python runs its one line (`import weight_gate_hf.autoload`) when it starts. This
module does nothing unless a `GATE_PLUGIN_*` variable is set (one pass over the environment, no
imports), so the file is harmless in environments that do not use the gate. When one is set:
`HF_ENDPOINT` defaults to the gate (the client reads it once, at import, so it must be set
before), and the plugin is installed from the `GATE_PLUGIN_*` variables (see `hook.py`).

Fail closed: Python's `site` prints an exception raised by a `.pth` line and carries on, so
raising here would leave the interpreter downloading unverified weights. Instead, when the
settings are missing or wrong (no trusted keys, an unreadable key file, a bad endpoint, a
misspelt variable), the client is blocked: every `huggingface_hub` request raises
`GateSettingsError` naming the setting, and the reason is printed once on stderr at start-up.
"""

from __future__ import annotations

import os
import sys


def _autoload() -> None:
    if not any(name.startswith("GATE_PLUGIN_") for name in os.environ):
        return
    endpoint = os.environ.get("GATE_PLUGIN_ENDPOINT", "").strip()
    if endpoint:
        os.environ.setdefault("HF_ENDPOINT", endpoint)
    from weight_gate_hf.hook import activate, block

    try:
        activate()
    except Exception as exc:
        # Any failure, expected (a bad setting) or not, must leave the client blocked rather
        # than unchecked: `site` would print the exception and let the interpreter carry on.
        block(str(exc) or type(exc).__name__)
        print(
            f"weight_gate_hf: every huggingface_hub download is blocked: {exc}",
            file=sys.stderr,
        )


_autoload()
