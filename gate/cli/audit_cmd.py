"""`gate audit verify|show|export`, `gate report` and `gate replay`: reading the record."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import typer
from cryptography.hazmat.primitives.asymmetric import ec

from gate.cli.output import print_json, stdout
from gate.cli.progress import PROGRESS_OPTION, entries_progress
from gate.cli.records_common import DB_OPTION, JSON_OPTION, cli_store, fields, parse_since, table
from gate.errors import InputError, NotFoundError
from gate.rules.loader import load_ruleset_set
from gate.settings import Settings
from gate.store import audit, replay, report, verify
from gate.store.chain import checkpoint_now, latest_checkpoint

audit_app = typer.Typer(help="The tamper-evident record of decisions.", no_args_is_help=True)


def _public_keys(paths: list[Path] | None) -> dict[str, ec.EllipticCurvePublicKey] | None:
    """Keys to check checkpoint signatures with: --public-key files, else the gate's key ring."""
    from gate.crypto.keys import KeyRing, load_public_keys

    if paths:
        return load_public_keys(paths)
    ring = KeyRing(Settings().effective_key_dir)
    return ring.public_keys() if ring.initialized else None


def _saved(paths: list[Path] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in paths or []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("checkpoint", f"cannot read {path}: {exc}") from None
        try:
            out += verify.parse_saved_checkpoints(text, str(path))
        except ValueError as exc:
            raise InputError("checkpoint", str(exc)) from None
    return out


@audit_app.command("verify")
def audit_verify(
    public_key: list[Path] | None = typer.Option(
        None,
        "--public-key",
        help="PEM public key that signs checkpoints (repeat); default: the gate's key ring.",
    ),
    checkpoint: list[Path] | None = typer.Option(
        None,
        "--checkpoint",
        help="A checkpoint saved outside the database (`gate audit checkpoint --out`, or the "
        "witness file); repeat. The chain must still hold everything it covered.",
    ),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
    progress: bool | None = PROGRESS_OPTION,
) -> None:
    """Recompute the chain. Exit 0 when intact, 1 when broken (naming the first broken entry)."""
    keys = _public_keys(public_key)
    saved = _saved(checkpoint)
    shown = entries_progress("verifying the chain", quiet=as_json, force=progress)
    with cli_store(db) as store, shown as step:
        result = verify.verify_chain(store, keys, saved=saved, progress=step)
    if as_json:
        print_json(result.to_dict())
    else:
        out = stdout()
        if result.ok:
            signed = "verified" if result.checkpoints_signature_checked else "NOT checked (no key)"
            held = f"; holds {result.saved_checkpoints} saved checkpoint(s)" if saved else ""
            out.print(
                f"intact: {result.entries} entries, {result.checkpoints} checkpoints "
                f"(signatures {signed}){held}",
                markup=False,
            )
        else:
            out.print(f"BROKEN at entry {result.first_broken}: {result.problem}", markup=False)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    output: Path | None = typer.Option(
        None, "--out", "-o", help="File to write (default: stdout); keep it outside the database."
    ),
    db: str | None = DB_OPTION,
) -> None:
    """Write the latest signed checkpoint (signing one at the head first when the key is
    available) for an auditor or a witness: `gate audit verify --checkpoint FILE` later proves
    the chain still holds everything it covered."""
    with cli_store(db) as store:
        checkpoint_now(store)
        latest = latest_checkpoint(store)
    if latest is None:
        raise NotFoundError("no signed checkpoint yet (the gate's key signs them: set up the key)")
    line = json.dumps(latest, sort_keys=True, separators=(",", ":")) + "\n"
    if output is None:
        sys.stdout.write(line)
        return
    try:
        output.write_text(line, encoding="utf-8")
    except OSError as exc:
        raise InputError("out", f"cannot write {output}: {exc.strerror}") from None
    seq = json.loads(latest["payload"])["seq"]
    stdout().print(f"checkpoint of entry {seq} written to {output}", markup=False)


@audit_app.command("show")
def audit_show(
    entry_id: str = typer.Argument(..., metavar="ID", help="Sequence number or decision id."),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Show one entry with everything it recorded."""
    with cli_store(db) as store:
        entry = audit.get_entry(store, entry_id)
    data = {
        "seq": entry.seq,
        "hash": entry.hash,
        "prev_hash": entry.prev_hash,
        "payload": dict(entry.payload),
    }
    if as_json:
        print_json(data)
        return
    payload = entry.payload
    items: list[tuple[str, Any]] = [
        ("seq", entry.seq),
        ("kind", entry.kind),
        ("recorded", payload.get("recorded_at")),
        ("hash", entry.hash),
    ]
    if entry.kind == "decision":
        decision = payload["decision"]
        request = payload["request"]
        items += [
            ("decision id", payload["decision_id"]),
            ("verdict", f"{decision['verdict']} ({decision['basis']})"),
            ("mode", f"{payload['mode']}{'' if payload['enforced'] else ' (not enforced)'}"),
            ("recipient", request["recipient"].get("id") or request["recipient"]["name"]),
            ("model", f"{request['model']['repo_id']} @ {request['model'].get('commit')}"),
            ("file", request.get("file")),
            ("destination", request.get("destination")),
            ("ruleset", f"{decision['ruleset']['id']} {decision['ruleset']['sha256'][:12]}"),
        ]
        # Decisions under a set keep each ruleset's own answer (older entries: the one above).
        items += [
            (f"ruleset {i + 1}", f"{r['id']} {r['sha256'][:12]}: {r['verdict']} ({r['basis']})")
            for i, r in enumerate(decision.get("rulesets") or ())
        ]
        items += [
            ("procedure", decision.get("procedure_version") or None),
            ("screening", _screening(request["recipient"])),
            ("license used", decision.get("license_used")),
            ("inquiry", payload.get("inquiry_id")),
        ]
        items += [(f"reason {i + 1}", r["text"]) for i, r in enumerate(decision["reasons"])]
    else:
        items += [
            (k, json.dumps(v, default=str))
            for k, v in sorted(payload.items())
            if k not in ("kind", "recorded_at")
        ]
    fields(f"audit entry {entry.seq}", items)


def _screening(recipient: dict[str, Any]) -> str | None:
    """The request's restricted-party screening statuses, e.g. "recipient match, parent clear"."""
    parent = recipient.get("ultimate_parent")
    shown = [("recipient", recipient.get("screening"))]
    if isinstance(parent, dict):
        shown.append(("parent", parent.get("screening")))
    text = ", ".join(f"{who} {status or 'not screened'}" for who, status in shown)
    return text if any(status for _, status in shown) else None


_CSV_COLUMNS = [
    "seq",
    "recorded_at",
    "kind",
    "decision_id",
    "mode",
    "enforced",
    "recipient",
    "repo_id",
    "commit",
    "file",
    "destination",
    "verdict",
    "basis",
    "license_used",
    "inquiry_id",
    "hash",
]


def _csv_row(entry: audit.AuditEntry) -> list[Any]:
    p = entry.payload
    request = p.get("request") or {}
    decision = p.get("decision") or {}
    recipient = request.get("recipient") or {}
    return [
        entry.seq,
        p.get("recorded_at"),
        entry.kind,
        p.get("decision_id"),
        p.get("mode"),
        p.get("enforced"),
        recipient.get("id") or p.get("recipient_id"),
        (request.get("model") or {}).get("repo_id") or p.get("repo_id"),
        (request.get("model") or {}).get("commit"),
        request.get("file"),
        request.get("destination"),
        decision.get("verdict"),
        decision.get("basis"),
        decision.get("license_used"),
        p.get("inquiry_id"),
        entry.hash,
    ]


@audit_app.command("export")
def audit_export(
    since: str | None = typer.Option(None, "--since", help="Date or date-time (UTC)."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl (every field) or csv (a summary)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
    db: str | None = DB_OPTION,
) -> None:
    """Export entries: JSON lines carry the whole entry (seq, hashes and payload)."""
    if fmt not in ("jsonl", "csv"):
        raise InputError("format", f"expected jsonl or csv, got {fmt!r}")
    moment = parse_since(since)
    stream: TextIO = sys.stdout
    if output is not None:
        try:
            stream = output.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise InputError("output", f"cannot write {output}: {exc.strerror}") from None
    try:
        with cli_store(db) as store:
            writer = csv.writer(stream) if fmt == "csv" else None
            if writer is not None:
                writer.writerow(_CSV_COLUMNS)
            for entry in audit.iter_entries(store, since=moment):
                if writer is not None:
                    writer.writerow(_csv_row(entry))
                else:
                    line = {
                        "seq": entry.seq,
                        "hash": entry.hash,
                        "prev_hash": entry.prev_hash,
                        "payload": dict(entry.payload),
                    }
                    stream.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
    finally:
        if output is not None:
            stream.close()


def report_command(
    since: str | None = typer.Option(None, "--since", help="Date or date-time (UTC)."),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Summarise decisions by verdict, basis, recipient and model."""
    moment = parse_since(since)
    with cli_store(db) as store:
        data = report.summarise(store, since=moment)
    if as_json:
        print_json(data)
        return
    out = stdout()
    out.print(
        f"{data['decisions']} decisions ({data['first'] or '-'} to {data['last'] or '-'}); "
        f"blocked {data['blocked']}; shadow mode would have blocked "
        f"{data['shadow_would_have_blocked']}",
        markup=False,
    )
    for title, key in (
        ("verdict", "by_verdict"),
        ("basis", "by_basis"),
        ("recipient", "by_recipient"),
        ("model", "by_model"),
    ):
        table(f"by {title}", [title, "decisions"], list(data[key].items()))


def replay_command(
    ruleset: list[Path] | None = typer.Option(
        None,
        "--ruleset",
        help="Ruleset TOML of the set (repeat; default: the server's set, GATE_RULESETS, "
        "else the shipped set).",
    ),
    since: str | None = typer.Option(None, "--since", help="Date or date-time (UTC)."),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
    progress: bool | None = PROGRESS_OPTION,
) -> None:
    """Re-decide recorded requests under another ruleset; list what would change (read-only)."""
    moment = parse_since(since)
    rules = load_ruleset_set(ruleset or Settings().ruleset_paths)
    shown = entries_progress("re-deciding", quiet=as_json, force=progress)
    with cli_store(db) as store, shown as step:
        result = replay.replay(store, rules, since=moment, progress=step)
    if as_json:
        print_json(result.to_dict())
        return
    stdout().print(
        f"{result.decisions} decisions re-decided under {result.ruleset_id}: "
        f"{len(result.changes)} would change; {len(result.other_procedure)} recorded by another "
        "procedure version",
        markup=False,
    )
    if result.changes:
        table(
            "changes",
            ["seq", "recipient", "model", "file", "recorded", "under new ruleset"],
            [
                (
                    c.seq,
                    c.recipient,
                    c.repo_id,
                    c.file,
                    f"{c.before['verdict']} ({c.before['basis']})",
                    f"{c.after['verdict']} ({c.after['basis']})",
                )
                for c in result.changes
            ],
        )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.command("report")(report_command)
    app.command("replay")(replay_command)
