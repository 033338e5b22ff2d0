"""A real interpreter start-up with the plugin's `.pth` file, for autoload tests.

`site` processes `.pth` files only in site directories, and prints then ignores an exception a
`.pth` line raises. To test exactly that, each test gets a bare virtual environment (no pip, made
in a fraction of a second) whose site-packages holds `weight_gate_hf.pth`, written by the plugin's
own `enable-autoload`; the test environment's packages reach it through PYTHONPATH, which is on
`sys.path` before `site` runs the `.pth` line.
"""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import weight_gate_hf

PLUGIN_SRC = Path(weight_gate_hf.__file__).resolve().parents[1]
ROOT = Path(__file__).resolve().parents[2]


def autoload_python(where: Path) -> Path:
    """A bare venv under `where` with autoload enabled; returns its python."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(where)
    python = where / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "weight_gate_hf", "enable-autoload"],
        env=child_env({}),
        check=True,
        capture_output=True,
        timeout=60,
    )
    return python


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without GATE_PLUGIN_*/HF_* settings, plus `extra`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GATE_PLUGIN_", "HF_"))}
    paths = [str(PLUGIN_SRC), str(ROOT), sysconfig.get_paths()["purelib"]]
    base["PYTHONPATH"] = os.pathsep.join(paths)
    return {**base, **extra}


def run(
    python: Path, code: str, extra_env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (the `.pth` runs at its start-up)."""
    return subprocess.run(
        [str(python), "-c", code, *args],
        env=child_env(extra_env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
