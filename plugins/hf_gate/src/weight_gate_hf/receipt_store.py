"""Receipts kept beside the Hugging Face cache, so cached files can be re-checked later.

Layout: `<cache>/gate-receipts/<repo folder>/<commit>/<path>.receipt.json`, mirroring the cache's
own `<repo folder>/snapshots/<commit>/<path>`. Each file holds the DSSE envelope exactly as the
gate signed it (anyone can re-verify it with the gate's public key) plus when and from where it
was received; only the envelope is trusted, the rest is a note.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weight_gate_hf.errors import GateVerificationError
from weight_gate_hf.receipts import format_time
from weight_gate_hf.urls import COMMIT_RE, check_file_path, repo_folder_name

RECEIPTS_DIR = "gate-receipts"
SUFFIX = ".receipt.json"
FORMAT = "weight-gate-plugin-receipt/v1"


def receipt_path(cache_dir: Path, repo_type: str, repo_id: str, commit: str, path: str) -> Path:
    """Where the receipt of one cached file lives."""
    if not COMMIT_RE.match(commit):
        raise GateVerificationError(f"not a commit id: {commit!r}")
    folder = cache_dir / RECEIPTS_DIR / repo_folder_name(repo_id, repo_type) / commit
    return folder.joinpath(*check_file_path(path).split("/")).with_name(
        path.rsplit("/", 1)[-1] + SUFFIX
    )


def save_receipt(target: Path, envelope: dict[str, Any], source_url: str) -> None:
    """Write a receipt atomically (a reader never sees half a file)."""
    record = {
        "format": FORMAT,
        "envelope": envelope,
        "received_at": format_time(datetime.now(UTC)),
        "source": source_url,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)


def load_receipt(target: Path) -> dict[str, Any] | None:
    """The stored envelope, or None when there is no receipt; a damaged file is an error."""
    try:
        record = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise GateVerificationError(f"{target}: unreadable receipt ({exc})") from exc
    envelope = record.get("envelope") if isinstance(record, dict) else None
    if not isinstance(envelope, dict) or record.get("format") != FORMAT:
        raise GateVerificationError(f"{target}: not a {FORMAT} receipt file")
    return envelope
