"""`gate config show`: the effective settings and where each came from, secrets masked."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import typer

config_app = typer.Typer(
    help="Show the effective settings and where each came from.", no_args_is_help=True
)

MASK = "********"


def mask_url(url: str) -> str:
    """A database URL with its password replaced by the mask."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def effective(flags: dict[str, Any]) -> dict[str, Any]:
    """Every setting: value (secrets masked), source, environment variable, description."""
    from pydantic import SecretStr

    from gate.settings import ENV_PREFIX, ServeSettings, config_file, load_settings, sources

    settings = load_settings(ServeSettings, flags=flags)
    origin = sources(settings, flags)
    path, named_by = config_file()
    rows: dict[str, Any] = {}
    for name, field in ServeSettings.model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = MASK if value.get_secret_value() else ""
        elif name == "database_url" and isinstance(value, str):
            value = mask_url(value)
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, list):
            value = [str(v) for v in value]
        rows[name] = {
            "value": value,
            "source": origin[name],
            "env": f"{ENV_PREFIX}{name.upper()}",
            "description": field.description or "",
        }
    return {
        "config_file": str(path) if path is not None else None,
        "config_file_named_by": named_by,
        "database": mask_url(settings.effective_database_url),
        "key_dir": str(settings.effective_key_dir),
        "settings": rows,
    }


@config_app.command("show")
def show(
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    db: str | None = typer.Option(None, "--db", help="As the records commands' --db."),
    store: Path | None = typer.Option(None, "--store", help="As gate serve --store."),
    upstream: str | None = typer.Option(None, "--upstream", help="As gate serve --upstream."),
    host: str | None = typer.Option(None, "--host", help="As gate serve --host."),
    port: int | None = typer.Option(None, "--port", help="As gate serve --port."),
    mode: str | None = typer.Option(None, "--mode", help="As gate serve --mode."),
    workers: int | None = typer.Option(None, "--workers", help="As gate serve --workers."),
) -> None:
    """Print the effective settings and the source of each: flag, env, file or default."""
    from gate.cli.output import print_json, stdout
    from gate.settings import unknown_variables

    flags = {
        "database_url": db,
        "store": store,
        "upstream": upstream,
        "host": host,
        "port": port,
        "mode": mode,
        "workers": workers,
    }
    report = effective(flags)
    report["unknown_variables"] = unknown_variables()
    if json_out:
        print_json(report)
        return
    from rich.markup import escape
    from rich.table import Table

    out = stdout()
    file_line = report["config_file"] or "none (gate --config FILE or GATE_CONFIG)"
    out.print(f"config file: {escape(file_line)}")
    out.print(f"database:    {escape(report['database'])}")
    table = Table("setting", "value", "source", "variable")
    for name, row in report["settings"].items():
        value = row["value"]
        shown = "" if value is None else str(value)
        table.add_row(name, escape(shown), row["source"], row["env"])
    out.print(table)
    for name in report["unknown_variables"]:
        out.print(f"[yellow]warning:[/] {escape(name)} names no setting and is ignored")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
