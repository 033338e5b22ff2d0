"""`gate serve`: the Hugging Face-compatible proxy on uvicorn.

At start it prints the rulesets it decides under and warns when restricted-party screening is off
(no list imported) or the list is older than GATE_SCREENING_MAX_AGE_DAYS.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def startup_summary(
    settings: ServeSettings, gate: Gate, repositories: int | None, today: date
) -> str:
    """The one summary line `gate serve` prints before it listens (details follow it)."""
    from gate.crypto.keys import KeyRing
    from gate.store import screening_lists

    if settings.store is not None:
        source = f"store {settings.store.resolve()} ({repositories} repositories)"
    else:
        source = f"upstream {settings.upstream}"
        if settings.upstream_cache is not None:
            source += (
                f" (cache {settings.upstream_cache.resolve()},"
                f" at most {settings.upstream_cache_max_bytes} bytes)"
            )
    state = screening_lists.state(gate.store, today, max_age_days=settings.screening_max_age_days)
    if state.list is None:
        screening_text = "off (no list imported)"
    else:
        stale = ", STALE" if state.stale else ""
        screening_text = f"on (list of {state.list.list_date}, {state.age_days} days old{stale})"
    rulesets = ", ".join(member.id for member in gate.service.rulesets)
    return (
        f"gate serve: http://{settings.host}:{settings.port} | source: {source}"
        f" | mode: {settings.mode} | key: {KeyRing(settings.effective_key_dir).active_key_id}"
        f" | rulesets: {rulesets} | screening: {screening_text}"
    )


def serve(
    store: Path | None = typer.Option(None, "--store", help="HF-cache folder to serve."),
    upstream: str | None = typer.Option(None, "--upstream", help="Hub-compatible URL to proxy."),
    upstream_token: str | None = typer.Option(
        None, "--upstream-token", help="Token the gate sends upstream (or GATE_UPSTREAM_TOKEN)."
    ),
    upstream_cache: Path | None = typer.Option(
        None,
        "--upstream-cache",
        help="Keep whole files relayed from the upstream here once verified (default: off).",
    ),
    upstream_cache_max_bytes: int | None = typer.Option(
        None,
        "--upstream-cache-max-bytes",
        help="Cap of the upstream cache in bytes (default 100 GiB); least recently used go first.",
    ),
    host: str | None = typer.Option(None, "--host"),
    port: int | None = typer.Option(None, "--port"),
    mode: str | None = typer.Option(None, "--mode", help="enforce (default) or shadow."),
    workers: int | None = typer.Option(
        None, "--workers", help="Server processes (default: one per core); they share the records."
    ),
    console_port: int | None = typer.Option(
        None, "--console-port", help="Also serve the compliance console on this port."
    ),
    console_host: str | None = typer.Option(
        None, "--console-host", help="Console address (default 127.0.0.1: loopback only)."
    ),
    config: Path | None = typer.Option(
        None, "--config", envvar="GATE_CONFIG", help="TOML file of settings ([serve] table)."
    ),
) -> None:
    """Serve models to the unmodified huggingface_hub client, deciding every transfer."""

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
            "upstream_cache": upstream_cache,
            "upstream_cache_max_bytes": upstream_cache_max_bytes,
            "host": host,
            "port": port,
            "mode": mode,
            "workers": workers,
            "console_port": console_port,
            "console_host": console_host,
        },
    )
    workers = settings.worker_count()
    repositories = startup_checks(settings)
    gate = build_gate(settings)  # fails here, once, on a missing key or an unreachable store
    today = datetime.now(UTC).date()
    stderr().print(startup_summary(settings, gate, repositories, today), markup=False)
    for line in startup_lines(gate.service, settings, today):
        stderr().print(line, markup=False)
    configure_json_logging(settings.log_level)
    with contextlib.ExitStack() as console:
        if settings.console_port is not None:
            from gate.console.serving import serve_console
            from gate.server.forwarded import ClientAddress

            def real_client(app: Any) -> Any:  # the sign-in limit counts the real client
                return ClientAddress(app, trusted=settings.trusted_networks)

            console.enter_context(serve_console(settings, real_client))
        _run(settings, gate, workers)


def _run(settings: ServeSettings, gate: Gate, workers: int) -> None:
    import uvicorn

    if workers > 1:
        gate.close()
        # Each worker builds its own gate from the same settings, passed as GATE_* variables,
        # and leaves its counters in one folder that /metrics adds up.
        metrics_dir = Path(tempfile.mkdtemp(prefix="gate-metrics-"))
        shared = settings.model_copy(update={"workers": workers, "metrics_dir": metrics_dir})
        os.environ.update(shared.to_environment())
        try:
            uvicorn.run(
                "gate.server.serve:app_from_environment",
                factory=True,
                workers=workers,
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                # uvicorn would trust X-Forwarded-For from 127.0.0.1; the app decides instead,
                # from GATE_TRUSTED_PROXIES (gate.server.forwarded).
                proxy_headers=False,
            )
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)
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
