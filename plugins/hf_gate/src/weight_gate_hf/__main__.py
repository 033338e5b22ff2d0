"""`python -m weight_gate_hf enable-autoload | disable-autoload | status | inquiry ...`.

enable-autoload writes a `.pth` file into site-packages (or `--dir`) so that setting the
`GATE_PLUGIN_*` environment variables is enough to activate the plugin in every Python process
of that environment; disable-autoload removes it. `inquiry show|answer ID` reads and answers the
questions of a hold (see `inquiry.py`).

Exit codes: 0 done, 1 the gate refused or could not be reached, 2 bad usage or settings.
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m weight_gate_hf")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("enable-autoload", "disable-autoload", "status"):
        sub = commands.add_parser(name)
        sub.add_argument("--dir", type=Path, default=None, help="site-packages folder to use")
    inquiry = commands.add_parser("inquiry", help="read or answer the questions of a hold")
    actions = inquiry.add_subparsers(dest="action", required=True)
    for action in ("show", "answer"):
        sub = actions.add_parser(action)
        sub.add_argument("id", help="the inquiry id the refusal named")
        sub.add_argument("--endpoint", help="the gate (default: GATE_PLUGIN_ENDPOINT, HF_ENDPOINT)")
        sub.add_argument("--token", help="recipient token (default: GATE_PLUGIN_TOKEN, HF_TOKEN)")
        sub.add_argument("--json", action="store_true", help="print the gate's JSON")
        if action == "answer":
            sub.add_argument("answers", nargs="*", help="key=value (value: JSON or text)")
            sub.add_argument("--file", help="a JSON object of answers ('-': standard input)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    # Answers may come before or after the options; argparse hands the later ones back as extras.
    args, extras = parser.parse_known_args(argv)
    if extras:
        if (
            args.command != "inquiry"
            or args.action != "answer"
            or any(e.startswith("-") for e in extras)
        ):
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        args.answers = [*args.answers, *extras]
    if args.command == "inquiry":
        from weight_gate_hf.errors import GateSettingsError
        from weight_gate_hf.inquiry import InquiryError
        from weight_gate_hf.inquiry import main as inquiry_main

        try:
            return inquiry_main(args)
        except GateSettingsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except InquiryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
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
