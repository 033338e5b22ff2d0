"""`gate demo`: build the demo world, start the proxy on loopback, download as each recipient.

The downloads are made by the real, unmodified `huggingface_hub` client (`snapshot_download`)
with each recipient's token, exactly as a platform's users would. The verdict and basis shown
for each pair are read back from the audit chain, the gate's own record of what it decided.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from huggingface_hub import snapshot_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError
from huggingface_hub.utils import logging as hf_logging
from huggingface_hub.utils.tqdm import disable_progress_bars

from gate.demo.generate import render_generation, run_generation
from gate.demo.scenario import RECIPIENTS, DemoWorld, build_world, seed_records
from gate.server.background import BackgroundServer
from gate.server.serve import Gate, build_gate
from gate.store import audit
from gate.store.verify import verify_chain

GENERATION_REPO = "acme/frontier-x"


@dataclass(frozen=True)
class DemoRow:
    recipient: str
    where: str
    repo_id: str
    verdict: str
    basis: str
    files: int
    bytes_received: int
    note: str


def _received(folder: Path) -> tuple[int, int]:
    # local_dir downloads keep the client's own bookkeeping under .cache/: not received bytes.
    files = [p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts]
    return len(files), sum(p.stat().st_size for p in files)


def _last_parameter_decision(gate: Gate, recipient_id: str, repo_id: str) -> tuple[str, str]:
    """The gate's recorded verdict for this recipient's last parameter-file request."""
    found = ("-", "-")
    for entry in audit.iter_entries(gate.store, kind="decision"):
        payload = entry.payload
        meta = payload.get("meta") or {}
        if meta.get("recipient_id") != recipient_id or meta.get("repo_id") != repo_id:
            continue
        if gate.gatekeeper.is_parameters(meta.get("file") or ""):
            decision = payload["decision"]
            found = (decision["verdict"], decision["basis"])
    return found


def download_all(world: DemoWorld, gate: Gate, endpoint: str, cache: Path) -> list[DemoRow]:
    # The table says what happened; the client's progress bars and per-file warnings would
    # bury it (the refusal reasons are in the table's basis and in the audit chain).
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    disable_progress_bars()
    rows = []
    for recipient in RECIPIENTS:
        rid = world.recipient_ids[recipient.key]
        parent = recipient.parent if isinstance(recipient.parent, str) else recipient.parent[1]
        where = f"{recipient.headquarters}/{parent}->{recipient.destination}"
        for model in world.models:
            target = cache / recipient.key / model.repo_id.replace("/", "--")
            note = "downloaded"
            try:
                snapshot_download(
                    model.repo_id,
                    endpoint=endpoint,
                    token=world.tokens[recipient.key],
                    local_dir=target,
                )
            except GatedRepoError:
                note = "refused (GatedRepoError)"
            except HfHubHTTPError as exc:
                note = f"error {exc.response.status_code if exc.response is not None else ''}"
            files, size = _received(target) if target.exists() else (0, 0)
            verdict, basis = _last_parameter_decision(gate, rid, model.repo_id)
            rows.append(
                DemoRow(recipient.name, where, model.repo_id, verdict, basis, files, size, note)
            )
    return rows


def render(rows: list[DemoRow], endpoint: str, intact: bool, entries: int) -> None:
    from rich.console import Console
    from rich.table import Table

    colours = {"allow": "green", "deny": "red", "hold": "magenta", "license_required": "yellow"}
    table = Table(title=f"Weight Gate demo: the real huggingface_hub client through {endpoint}")
    for column in ("recipient (hq/parent->dest)", "model", "verdict", "basis", "bytes received"):
        table.add_column(column, justify="right" if column.startswith("bytes") else "left")
    for row in rows:
        colour = colours.get(row.verdict, "white")
        table.add_row(
            f"{row.recipient} ({row.where})",
            row.repo_id,
            f"[{colour}]{row.verdict}[/]",
            row.basis,
            f"{row.bytes_received:,}",
        )
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    console.print(table)
    state = "intact" if intact else "BROKEN"
    console.print(
        f"Audit chain: {entries} entries, {state}. Refused transfers received only "
        "the files that are not parameters (cards, configs, tokenizers)."
    )


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so every `finally` (the temporary files) runs."""


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(_signum: int, _frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(
    *,
    keep_running: bool,
    as_json: bool,
    workdir: Path | None,
    database_url: str | None,
    wait: Callable[[], None] | None = None,
) -> int:
    """Run the demo; returns the exit code (0 when the table came out as designed).

    The demo never writes into an operator's records: its records go to `database_url` only
    when one is given explicitly, else to a SQLite file in its own folder, whatever
    `GATE_DATABASE_URL` says; `GATE_AUDIT_WITNESS_DIR` is ignored. Its temporary folder (when
    no `workdir` is given) is removed on exit, Ctrl-C (exit 130) and SIGTERM (exit 143).
    """
    with _sigterm_raises():
        own_dir = workdir is None
        root = Path(tempfile.mkdtemp(prefix="gate-demo-")) if workdir is None else workdir
        try:
            return _run_in(root, keep_running, as_json, database_url, wait)
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
            return 130
        except Terminated:
            print("terminated", file=sys.stderr)
            return 143
        finally:
            if own_dir:
                shutil.rmtree(root, ignore_errors=True)


def _run_in(
    root: Path,
    keep_running: bool,
    as_json: bool,
    database_url: str | None,
    wait: Callable[[], None] | None,
) -> int:
    world = build_world(root, database_url)
    isolated = world.settings.model_copy(
        update={
            "database_url": database_url or f"sqlite:///{root / 'demo-records.db'}",
            "audit_witness_dir": None,
        }
    )
    gate = build_gate(isolated)
    try:
        seed_records(world, gate.store)
        with BackgroundServer(gate.app) as server:
            if keep_running:
                from gate.console.demo import demo_console  # the console beside the hub

                with demo_console(gate.store, server.url, world.tokens) as console:
                    _serve_until_interrupted(world, server.url, as_json, wait, console)
                return 0
            rows = download_all(world, gate, server.url, root / "downloads")
            tokens = (world.tokens["nordic"], world.tokens["shenzhen"])
            generation = run_generation(server.url, GENERATION_REPO, tokens, root / "hf-home")
        report = verify_chain(gate.store)
        if as_json:
            print(
                json.dumps(
                    {
                        "endpoint": server.url,
                        "rows": [r.__dict__ for r in rows],
                        "audit": {"intact": report.ok, "entries": report.entries},
                        "transformers": generation,
                    }
                )
            )
        else:
            render(rows, server.url, report.ok, report.entries)
            render_generation(generation, GENERATION_REPO)
        return 0 if report.ok else 1
    finally:
        gate.close()


def _serve_until_interrupted(
    world: DemoWorld,
    endpoint: str,
    as_json: bool,
    wait: Callable[[], None] | None,
    console: dict[str, str] | None = None,
) -> None:
    recipients = world.recipients_json()
    first: dict[str, object] = {
        "endpoint": endpoint,
        "recipients": recipients,
        "models": world.models_json(),
        "public_key_pem": str(world.public_key_pem()),
    }
    if console is not None:
        first["console"] = console
    if as_json:
        print(json.dumps(first), flush=True)
    else:
        print(f"Weight Gate demo serving at {endpoint} (Ctrl-C stops it)", flush=True)
        if console is not None:
            print(
                f"Compliance console at {console['url']}: sign in as {console['officer']} "
                f"with password {console['password']} (shown once)",
                flush=True,
            )
        for r in recipients:
            print(
                f"  HF_ENDPOINT={endpoint} HF_TOKEN={r['token']} hf download "
                f"acme/frontier-x   # as {r['name']}",
                flush=True,
            )
        print(f"  the gate's public key (plugin, model_signing): {first['public_key_pem']}")
    (wait or threading.Event().wait)()
