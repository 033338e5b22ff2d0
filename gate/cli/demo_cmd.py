"""`gate demo`: the gate on its embedded default, end to end, in one command."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    keep_running: bool = typer.Option(
        False, "--keep-running", help="Serve the demo hub until interrupted instead of the table."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Machine output (with --keep-running: one JSON line, then serve)."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Keep the demo's hub, keys and records here (default: temporary)."
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="Write the demo's records here (e.g. a PostgreSQL test database). Default: its own "
        "temporary SQLite file; GATE_DATABASE_URL is never used, so the demo cannot write into "
        "an operator's records by accident.",
    ),
) -> int:
    """Run the gate end to end on a demo hub and show who got which weights, and why.

    Builds a small hub of tiny real models, runs the proxy on loopback, downloads every model
    as every demo recipient with the real huggingface_hub client, and prints verdict, basis and
    bytes received. Records go to its own temporary SQLite file (removed on exit, Ctrl-C or
    SIGTERM) unless --database-url names a database.
    """
    from gate.demo.run import run_demo

    return run_demo(
        keep_running=keep_running,
        as_json=as_json,
        workdir=workdir,
        database_url=database_url,
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
