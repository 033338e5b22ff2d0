"""`gate models import|list`: put a model folder into the local store, and see what it serves.

`import` lays a folder as `save_pretrained` writes it into the store in the Hugging Face cache
layout (content-addressed blobs, a commit named by the content) and prints the commit. `list`
shows every repository the store holds, with each named revision's commit and the model's
classification: the one on record, else what the gate would find from the metadata now.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from gate.cli.output import print_json, stdout
from gate.cli.records_common import DB_OPTION, JSON_OPTION, cli_store, table
from gate.errors import InputError, MetadataError, SignatureError

STORE_OPTION = typer.Option(
    None, "--store", envvar="GATE_STORE", help="The store folder (HF-cache layout) gate serve uses."
)


def _store_dir(store: Path | None, *, create: bool) -> Path:
    if store is None:
        raise InputError("store", "give --store DIR (or set GATE_STORE)")
    if create:
        store.mkdir(parents=True, exist_ok=True)
    elif not store.is_dir():
        raise InputError("store", f"store folder {store} does not exist")
    return store


@contextmanager
def _progress(total: int, label: str, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A byte progress bar on a terminal; nothing with --json or when not a TTY."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def models_import(
    folder: Path = typer.Argument(..., help="A model folder as save_pretrained writes it."),
    repo: str = typer.Option(..., "--repo", help="Repository name to serve it as (org/name)."),
    revision: str = typer.Option("main", "--revision", help="Branch name pointed at the commit."),
    store: Path | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Put a model folder into the store as one commit; prints the commit."""
    from gate.hub.layout import folder_files, import_folder

    root = _store_dir(store, create=True)
    total = sum(p.stat().st_size for p in folder_files(folder).values())
    with _progress(total, f"importing {repo}", as_json) as on_bytes:
        done = import_folder(root, repo, folder, revision=revision, on_bytes=on_bytes)
    if as_json:
        print_json(
            {
                "repo_id": done.repo_id,
                "revision": done.revision,
                "commit": done.commit,
                "files": done.files,
                "bytes": done.size,
                "store": str(root.resolve()),
            }
        )
        return
    stdout().print(
        f"{done.repo_id}@{done.revision} -> {done.commit} ({done.files} files, {done.size:,} bytes)"
    )


def _interval(facts: Any) -> str:
    compute = facts.training_compute
    low = "?" if compute.low is None else f"{compute.low:.2g}"
    high = "?" if compute.high is None else f"{compute.high:.2g}"
    return f"{low} .. {high} ({compute.method})"


async def _classified(root: Path, db: str | None) -> list[dict[str, Any]]:
    from gate.compute.classify import to_model_facts
    from gate.crypto.keys import load_public_keys
    from gate.hub.local import LocalStore
    from gate.rules.loader import resolve_ruleset
    from gate.service.classifying import classify_commit
    from gate.settings import Settings
    from gate.store import models

    settings = Settings()
    ruleset = resolve_ruleset(settings.ruleset)
    trusted = load_public_keys(settings.trusted_declarer_keys)
    source = LocalStore(root)
    out: list[dict[str, Any]] = []
    with cli_store(db) as records:
        for repo_id in source.repositories():
            refs = await source.refs(repo_id)
            for name, commit in [*refs.branches, *refs.tags, *refs.pull_requests]:
                resolved = await source.resolve(repo_id, name)
                facts = models.get_classification(records, repo_id, commit)
                origin = "recorded"
                if facts is None:
                    origin = "from metadata (not recorded yet)"
                    try:
                        found = await classify_commit(source, resolved, ruleset, trusted)
                        facts = to_model_facts(found, repo_id, name, commit)
                    except (MetadataError, InputError, SignatureError) as exc:
                        out.append(_row(repo_id, name, commit, None, f"unclassifiable: {exc}"))
                        continue
                out.append(_row(repo_id, name, commit, facts, origin))
    return out


def _row(repo_id: str, revision: str, commit: str, facts: Any, origin: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "repo_id": repo_id,
        "revision": revision,
        "commit": commit,
        "classification": origin,
    }
    if facts is not None:
        row |= {
            "published": facts.published,
            "training_compute": [facts.training_compute.low, facts.training_compute.high],
            "method": facts.training_compute.method,
            "designated": facts.designated,
            "summary": _interval(facts),
        }
    return row


def models_list(
    store: Path | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Every repository the store serves, with its commit and classification."""
    root = _store_dir(store, create=False)
    rows = asyncio.run(_classified(root, db))
    if as_json:
        print_json(rows)
        return
    if not rows:
        stdout().print(
            f"no repository in {root}: add one with `gate models import FOLDER --repo org/name`"
        )
        return

    def published(value: bool | None) -> str:
        return {True: "yes", False: "no"}.get(value, "unknown")  # type: ignore[arg-type]

    table(
        f"Repositories in {root}",
        ["repository", "revision", "commit", "published", "training compute", "classification"],
        [
            [
                r["repo_id"],
                r["revision"],
                r["commit"][:12],
                published(r.get("published")),
                r.get("summary", "-"),
                r["classification"],
            ]
            for r in rows
        ],
    )


def add_store_commands(models_app: typer.Typer) -> None:
    """Adds `import` and `list` to the `gate models` group (gate.cli.models_cmd holds the rest)."""
    models_app.command("import")(models_import)
    models_app.command("list")(models_list)
