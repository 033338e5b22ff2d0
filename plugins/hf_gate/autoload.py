"""Activation at interpreter start-up, by environment variables alone.

`python -m plugins.hf_gate enable-autoload` writes `weight_gate_hf.pth` into the environment's
site-packages; Python runs its one line (`import plugins.hf_gate.autoload`) when it starts.
This module then does nothing unless `GATE_PLUGIN_ENDPOINT` is set (one environment lookup, no
imports), so the file is harmless in environments that do not use the gate. When it is set:
`HF_ENDPOINT` defaults to the gate (the client reads it once, at import, so it must be set
before), and the plugin is installed from the `GATE_PLUGIN_*` variables (see `hook.py`).

A mistake in those variables (no trusted keys, an unreadable PEM file) stops the interpreter at
start-up with the reason: a process that was meant to verify weights must not run without it.
"""

from __future__ import annotations

import os


def _autoload() -> None:
    endpoint = os.environ.get("GATE_PLUGIN_ENDPOINT", "").strip()
    if not endpoint:
        return
    os.environ.setdefault("HF_ENDPOINT", endpoint)
    from plugins.hf_gate.hook import activate

    activate()


_autoload()
