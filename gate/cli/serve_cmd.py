"""`gate serve`: the Hugging Face-compatible proxy on uvicorn.

At start it prints the rulesets it decides under and warns when restricted-party screening is off
(no list imported) or the list is older than GATE_SCREENING_MAX_AGE_DAYS.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from gate.server.settings import load_serve_settings


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

    from gate.cli.output import stderr
    from gate.server.metrics import configure_json_logging
    from gate.server.serve import build_gate
    from gate.service.build import startup_lines

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
    gate = build_gate(settings)  # fails here, once, on a missing key or an unreachable store
    for line in startup_lines(gate.service, settings, datetime.now(UTC).date()):
        stderr().print(line, markup=False)
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
