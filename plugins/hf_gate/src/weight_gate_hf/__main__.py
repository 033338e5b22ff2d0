"""`python -m weight_gate_hf enable-autoload | disable-autoload | status`.

enable-autoload writes a `.pth` file into site-packages (or `--dir`) so that setting the
`GATE_PLUGIN_*` environment variables is enough to activate the plugin in every Python process
of that environment; disable-autoload removes it.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "weight_gate_hf.pth"
PTH_LINE = "import weight_gate_hf.autoload\n"


def enable_autoload(directory: Path | None = None) -> Path:
    """Write the `.pth` file; returns its path."""
    target = (directory or Path(sysconfig.get_paths()["purelib"])) / PTH_NAME
    target.write_text(PTH_LINE, encoding="utf-8")
    return target


def disable_autoload(directory: Path | None = None) -> Path:
    """Remove the `.pth` file (no error when absent); returns its path."""
    target = (directory or Path(sysconfig.get_paths()["purelib"])) / PTH_NAME
    target.unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m weight_gate_hf")
    parser.add_argument("command", choices=["enable-autoload", "disable-autoload", "status"])
    parser.add_argument("--dir", type=Path, default=None, help="site-packages folder to use")
    args = parser.parse_args(argv)
    if args.command == "enable-autoload":
        print(f"wrote {enable_autoload(args.dir)}; set GATE_PLUGIN_ENDPOINT to activate")
    elif args.command == "disable-autoload":
        print(f"removed {disable_autoload(args.dir)}")
    else:
        target = (args.dir or Path(sysconfig.get_paths()["purelib"])) / PTH_NAME
        print(f"autoload {'enabled' if target.is_file() else 'disabled'} ({target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
