"""Which files are parameters, for the plugin: fail closed, from a small data file.

RULES.md: a file is parameters unless the ruleset names it as not parameters (configuration,
tokenizer, documentation, code, images). The plugin cannot load the gate's ruleset (it does not
depend on the gate), so it ships the shipped ruleset's "not parameters" name patterns as data
(`non_parameter_files.json`, kept equal to the ruleset by a test in the gate's suite) and treats
every other name as parameters, unknown names included (`.sft`, `model.safetensors.bak`, ...).

The direction of any disagreement is safe: a name the operator's ruleset calls "not parameters"
but this list does not is treated as parameters here, so its download is refused for want of a
receipt (fail closed, never a file let through unchecked). `install(non_parameter_patterns=...)`
or `GATE_PLUGIN_NON_PARAMETER_FILES` replaces the list when an operator publishes another one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from fnmatch import translate
from importlib.resources import files

from weight_gate_hf.errors import GateSettingsError

DATA_FILE = "non_parameter_files.json"


def shipped_non_parameter_patterns() -> tuple[str, ...]:
    """The patterns in the data file shipped with the plugin."""
    document = json.loads(files("weight_gate_hf").joinpath(DATA_FILE).read_text("utf-8"))
    return tuple(document["patterns"])


def parameter_test(patterns: Iterable[str] | None = None) -> Callable[[str], bool]:
    """`is_parameters(path)`: True unless the base name matches one of `patterns`."""
    chosen = tuple(shipped_non_parameter_patterns() if patterns is None else patterns)
    for pattern in chosen:
        if not isinstance(pattern, str) or not pattern.strip() or "/" in pattern:
            raise GateSettingsError(f"non-parameter file pattern {pattern!r}: not a base-name glob")
    regex = re.compile("|".join(translate(p.lower()) for p in chosen)) if chosen else None

    def is_parameters(path: str) -> bool:
        name = path.rsplit("/", 1)[-1].lower()
        return regex is None or regex.match(name) is None

    return is_parameters
