"""`gate serve`: the Hugging Face-compatible proxy on uvicorn."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gate.cli.output import stderr
from gate.errors import AddressInUseError, InputError
from gate.server.settings import ServeSettings, load_serve_settings

if TYPE_CHECKING:
    from gate.server.serve import Gate


def startup_checks(settings: ServeSettings) -> int | None:
    """Refuse a store folder that does not exist and a port already taken; warn on an empty
    store. Returns how many repositories the store holds (None in upstream mode)."""
    count = None
    if settings.store is not None:
        from gate.hub.local import LocalStore

        if not settings.store.is_dir():
            raise InputError(
                "store",
                f"store folder {settings.store} does not exist; create it and add a model with"
                f" `gate models import FOLDER --repo org/name --store {settings.store}`",
            )
        count = len(LocalStore(settings.store).repositories())
        if count == 0:
            stderr().print(
                f"warning: {settings.store} holds no repository (HF-cache layout,"
                " models--org--name/); add one with `gate models import FOLDER --repo org/name`",
                markup=False,
            )
    with socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET) as probe:
        # As uvicorn binds: SO_REUSEADDR, so only a live listener makes this fail.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            raise AddressInUseError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
                " (another process holds it? choose another with --port or GATE_PORT)"
            ) from None
    return count


def startup_summary(settings: ServeSettings, gate: Gate, repositories: int | None) -> str:
    """The one line `gate serve` prints before it listens."""
    from datetime import date

    from gate.crypto.keys import KeyRing
    from gate.store import screening_lists

    if settings.store is not None:
        source = f"store {settings.store.resolve()} ({repositories} repositories)"
    else:
        source = f"upstream {settings.upstream}"
    screening = screening_lists.state(gate.store, date.today())
    if screening.on and screening.list is not None:
        listed = f"list of {screening.list.list_date} ({screening.age_days} days old"
        screening_text = f"on, {listed}{', STALE' if screening.stale else ''})"
    else:
        screening_text = "off (no list imported: gate screening import)"
    ruleset = gate.gatekeeper.ruleset
    return (
        f"gate serve: http://{settings.host}:{settings.port} | source: {source}"
        f" | mode: {settings.mode} | key: {KeyRing(settings.effective_key_dir).active_key_id}"
        f" | rulesets: {ruleset.id} | screening: {screening_text}"
    )


def serve(
    store: Path | None = typer.Option(None, "--store", help="HF-cache folder to serve."),
    upstream: str | None = typer.Option(None, "--upstream", help="Hub-compatible URL to proxy."),
    upstream_token: str | None = typer.Option(
        None, "--upstream-token", help="Token the gate sends upstream (or GATE_UPSTREAM_TOKEN)."
    ),
    host: str | None = typer.Option(None, "--host"),
    port: int | None = typer.Option(None, "--port"),
    mode: str | None = typer.Option(None, "--mode", help="enforce (default) or shadow."),
    workers: int | None = typer.Option(
        None, "--workers", help="Server processes (default 1); they share the records."
    ),
    config: Path | None = typer.Option(
        None, "--config", envvar="GATE_CONFIG", help="TOML file of settings ([serve] table)."
    ),
) -> None:
    """Serve models to the unmodified huggingface_hub client, deciding every transfer."""
    import uvicorn

    from gate.server.metrics import configure_json_logging
    from gate.server.serve import build_gate

    settings = load_serve_settings(
        config,
        {
            "store": store,
            "upstream": upstream,
            "upstream_token": upstream_token,
            "host": host,
            "port": port,
            "mode": mode,
            "workers": workers,
        },
    )
    repositories = startup_checks(settings)
    gate = build_gate(settings)  # fails here, once, on a missing key or an unreachable store
    stderr().print(startup_summary(settings, gate, repositories), markup=False)
    configure_json_logging(settings.log_level)
    if settings.workers > 1:
        gate.close()
        # Each worker builds its own gate from the same settings, passed as GATE_* variables.
        os.environ.update(settings.to_environment())
        uvicorn.run(
            "gate.server.serve:app_from_environment",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            # uvicorn would trust X-Forwarded-For from 127.0.0.1; the app decides instead,
            # from GATE_TRUSTED_PROXIES (gate.server.forwarded).
            proxy_headers=False,
        )
        return
    try:
        uvicorn.run(
            gate.app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=False,  # see above: only GATE_TRUSTED_PROXIES is trusted
        )
    finally:
        gate.close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
