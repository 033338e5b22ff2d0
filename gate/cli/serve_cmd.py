"""`gate serve`: the Hugging Face-compatible proxy on uvicorn."""

from __future__ import annotations

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
        },
    )
    gate = build_gate(settings)
    configure_json_logging(settings.log_level)
    try:
        uvicorn.run(
            gate.app, host=settings.host, port=settings.port, log_config=None, access_log=False
        )
    finally:
        gate.close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
