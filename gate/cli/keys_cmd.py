"""`gate keys init|rotate|list|export-public`: the gate's signing keys.

The key directory comes from `--key-dir`, else `GATE_KEY_DIR`, else `<GATE_DATA_DIR>/keys`
(default ./gate-data/keys). The passphrase comes from `GATE_KEY_PASSPHRASE`, else an
interactive prompt when stdin is a terminal; it is read here, at the entry point, and passed
down, never read by the crypto package itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from gate.cli.output import print_json, stdout
from gate.crypto.keys import KeyRing
from gate.errors import InputError
from gate.settings import Settings

keys_app = typer.Typer(help="Manage the gate's signing keys (ECDSA P-256).", no_args_is_help=True)

_KEY_DIR_HELP = "Key directory (default: $GATE_KEY_DIR or <$GATE_DATA_DIR>/keys)."


def _ring(key_dir: Path | None) -> KeyRing:
    return KeyRing(key_dir if key_dir is not None else Settings().effective_key_dir)


def _passphrase(*, confirm: bool = False) -> str:
    """GATE_KEY_PASSPHRASE, or a hidden prompt on a terminal; an InputError otherwise."""
    secret = Settings().key_passphrase
    if secret is not None and secret.get_secret_value():
        return secret.get_secret_value()
    if not sys.stdin.isatty():
        raise InputError(
            "passphrase", "set GATE_KEY_PASSPHRASE (stdin is not a terminal, cannot prompt)"
        )
    value: str = typer.prompt(
        "Key passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return value


@keys_app.command("init")
def init(
    key_dir: Path | None = typer.Option(None, "--key-dir", help=_KEY_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Create the key directory and the first signing key (private key encrypted at rest)."""
    ring = _ring(key_dir)
    kid = ring.init(_passphrase(confirm=True))
    if as_json:
        print_json({"key_dir": str(ring.directory), "kid": kid, "status": "active"})
        return
    stdout().print(f"created signing key [bold]{kid}[/] in {escape(str(ring.directory))}")


@keys_app.command("rotate")
def rotate(
    key_dir: Path | None = typer.Option(None, "--key-dir", help=_KEY_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Make a new active key; the old one is retired (its public key stays for verification)."""
    ring = _ring(key_dir)
    old = ring.active_key_id
    kid = ring.rotate(_passphrase())
    if as_json:
        print_json({"key_dir": str(ring.directory), "kid": kid, "retired": old})
        return
    stdout().print(f"new active key [bold]{kid}[/]; retired {old}")


@keys_app.command("list")
def list_keys(
    key_dir: Path | None = typer.Option(None, "--key-dir", help=_KEY_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List active and retired keys, newest first (no passphrase needed)."""
    ring = _ring(key_dir)
    infos = ring.list_keys()
    if as_json:
        print_json({"key_dir": str(ring.directory), "keys": [i.to_dict() for i in infos]})
        return
    out = stdout()
    # One key per line, the id whole: a table would cut or fold 64-hex ids on a normal terminal.
    for info in infos:
        retired = f"  retired {info.retired}" if info.retired else ""
        style = "bold" if info.status == "active" else "dim"
        out.print(f"[{style}]{info.kid}  {info.status:<7}[/]  created {info.created}{retired}")


@keys_app.command("export-public")
def export_public(
    key_dir: Path | None = typer.Option(None, "--key-dir", help=_KEY_DIR_HELP),
    kid: str | None = typer.Option(None, "--kid", help="Key id (default: the active key)."),
    jwks: bool = typer.Option(
        False, "--jwks", help="Print the JWK set of all keys (what the server publishes)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Print a public key as PEM (for `model_signing verify key`), or the JWK set."""
    ring = _ring(key_dir)
    if jwks:
        print_json(ring.jwks())
        return
    pem = ring.export_public_pem(kid)
    if as_json:
        print_json({"kid": kid or ring.active_key_id, "pem": pem})
        return
    sys.stdout.write(pem)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
