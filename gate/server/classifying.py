"""Classify a model revision on first sight, from what the source holds, without its weights.

The proxy reads the small files (config.json, README.md, the shard index, a compute
declaration) and the safetensors headers only (8 bytes, then the N-byte header, per shard,
concurrently), and hands them to the classifier's pure core. The result is kept in the records
store per (repo, commit), so this runs once per commit, not per request.

A repository may carry a signed compute declaration as `compute-declaration.json` (a DSSE
envelope, see `gate declare`). It counts as authoritative only when its signer is one of the
operator's trusted declarer keys; otherwise it is read as an unverified claim and says so.
"""

from __future__ import annotations

import asyncio
import struct
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric import ec
from starlette.concurrency import run_in_threadpool

from gate.compute.assemble import TrainingInputs
from gate.compute.classify import (
    INDEX_FILE,
    Classification,
    classify_from_parts,
    json_object,
    shard_paths,
    to_model_facts,
    uncounted_parameter_files,
)
from gate.compute.declaration import VerifiedDeclaration, read_unverified, verify_declaration
from gate.core.ruleset import Ruleset
from gate.core.values import ComputeInterval, ModelFacts
from gate.errors import InputError, MetadataError, SignatureError
from gate.hub.source import FileEntry, ModelSource, Resolved

DECLARATION_FILE = "compute-declaration.json"
_SMALL_FILE_LIMIT = 16 * 1024 * 1024
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit


async def _read(source: ModelSource, resolved: Resolved, entry: FileEntry, stop: int) -> bytes:
    chunks = source.open(resolved.repo_id, resolved.commit, entry, 0, min(stop, entry.size))
    return b"".join([chunk async for chunk in chunks])


async def _text(
    source: ModelSource, resolved: Resolved, files: Mapping[str, FileEntry], path: str
) -> str | None:
    entry = files.get(path)
    if entry is None:
        return None
    if entry.size > _SMALL_FILE_LIMIT:
        raise MetadataError(f"{resolved.repo_id}/{path}", f"{entry.size} bytes is too large")
    try:
        return (await _read(source, resolved, entry, entry.size)).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{resolved.repo_id}/{path}", "not UTF-8 text") from exc


async def _header(
    source: ModelSource, resolved: Resolved, entry: FileEntry
) -> tuple[str, bytes, int]:
    """(source name, the file's first 8 + N bytes, file size): header bytes only."""
    where = f"{resolved.repo_id}/{entry.path}"
    prefix = await _read(source, resolved, entry, 8)
    if len(prefix) < 8:
        raise MetadataError(where, "shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", prefix)
    if length > _MAX_HEADER or 8 + length > entry.size:
        raise MetadataError(where, f"header length {length} is beyond the file or 100 MB")
    return where, await _read(source, resolved, entry, 8 + length), entry.size


def binding_problem(
    found: VerifiedDeclaration,
    resolved: Resolved,
    files: Mapping[str, FileEntry],
    is_parameters: Callable[[str], bool],
) -> str | None:
    """Why a declaration does not speak for this commit, or None when it does.

    A declaration signed for one model must not clear another: it has to name this repository,
    and either this commit or the sha256 of every parameter file in it. (A declaration shipped
    inside the repository cannot name its own commit, so digests are the usual binding.)
    """
    model = found.declaration.model
    if model.repo.casefold() != resolved.repo_id.casefold():
        return f"it declares {model.repo!r}, not {resolved.repo_id!r}"
    if model.commit is not None and model.commit == resolved.commit:
        return None
    digests = model.weight_digests or {}
    if not digests:
        return f"it names commit {model.commit}, not {resolved.commit}"
    for path, digest in digests.items():
        entry = files.get(path)
        if entry is None or entry.sha256 != digest:
            return f"its digest for {path!r} does not match this commit's file"
    uncovered = sorted(p for p in files if is_parameters(p) and p not in digests)
    if uncovered:
        return f"it does not cover the parameter file {uncovered[0]!r}"
    return None


def _declaration(
    text: str | None,
    trusted: Mapping[str, ec.EllipticCurvePublicKey],
    where: str,
    binds: Callable[[VerifiedDeclaration], str | None],
) -> tuple[VerifiedDeclaration | None, str | None]:
    """The repository's declaration: verified when a trusted key signed it, else a claim;
    ignored (with a warning) when it does not speak for this commit."""
    envelope = json_object(text, where)
    if envelope is None:
        return None, None
    warning = None
    try:
        found = verify_declaration(envelope, trusted, where)
    except SignatureError as exc:
        found = read_unverified(envelope, where)
        warning = f"{where}: not signed by a trusted declarer key ({exc}); read as a claim"
    problem = binds(found)
    if problem is not None:
        return None, f"{where}: ignored, {problem}"
    return found, warning


async def classify_commit(
    source: ModelSource,
    resolved: Resolved,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
) -> Classification:
    """Classify one commit of a repository from its metadata (raises MetadataError)."""
    listing = await source.list_files(resolved.repo_id, resolved.commit)
    files = {entry.path: entry for entry in listing}
    where = f"{resolved.repo_id}@{resolved.commit}"
    config_text, card_text, index_text, declaration_text = await asyncio.gather(
        _text(source, resolved, files, "config.json"),
        _text(source, resolved, files, "README.md"),
        _text(source, resolved, files, INDEX_FILE),
        _text(source, resolved, files, DECLARATION_FILE),
    )
    index = json_object(index_text, f"{where}/{INDEX_FILE}")
    shards = shard_paths(list(files), index)
    headers = await asyncio.gather(*(_header(source, resolved, files[s]) for s in shards))
    declaration, warning = _declaration(
        declaration_text,
        trusted_declarers,
        f"{where}/{DECLARATION_FILE}",
        lambda found: binding_problem(found, resolved, files, ruleset.is_parameters),
    )
    classification = classify_from_parts(
        ruleset,
        headers=list(headers),
        config=json_object(config_text, f"{where}/config.json"),
        card_text=card_text,
        inputs=TrainingInputs(declaration=declaration),
        source=where,
        uncounted=uncounted_parameter_files(list(files), shards, ruleset),
    )
    if warning is None:
        return classification
    return replace(classification, warnings=(*classification.warnings, warning))


class ModelFactsProvider:
    """Facts per (repo, commit): from memory, else the records store, else classified now.

    A classification that fails on bad metadata leaves every fact unknown (so the decision holds,
    never allows) and is not stored, so a fixed repository is classified again. Source failures
    (UpstreamError) propagate: the request fails and no byte leaves.
    """

    def __init__(
        self,
        source: ModelSource,
        ruleset: Ruleset,
        *,
        load: Callable[[str, str], ModelFacts | None],
        save: Callable[[ModelFacts], None],
        trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey] | None = None,
        max_entries: int = 4096,
    ) -> None:
        self.source = source
        self.ruleset = ruleset
        self.load = load
        self.save = save
        self.trusted_declarers = dict(trusted_declarers or {})
        self.max_entries = max_entries
        self._known: OrderedDict[tuple[str, str], ModelFacts] = OrderedDict()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def facts(self, resolved: Resolved) -> ModelFacts:
        key = (resolved.repo_id, resolved.commit)
        known = self._known.get(key)
        if known is not None:
            return known
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one classification per commit, however many first requests
            known = self._known.get(key)
            if known is None:
                known = await self._load_or_classify(resolved)
                self._known[key] = known
                if len(self._known) > self.max_entries:
                    self._known.popitem(last=False)
        self._locks.pop(key, None)
        return known

    async def _load_or_classify(self, resolved: Resolved) -> ModelFacts:
        stored = await run_in_threadpool(self.load, resolved.repo_id, resolved.commit)
        if stored is not None:
            return stored
        try:
            found = await classify_commit(
                self.source, resolved, self.ruleset, self.trusted_declarers
            )
        except (MetadataError, InputError, SignatureError) as exc:
            return ModelFacts(
                repo_id=resolved.repo_id,
                revision=resolved.revision,
                commit=resolved.commit,
                publication_evidence=f"not classified: {exc}",
                training_compute=ComputeInterval(method="unclassified", evidence=(str(exc),)),
            )
        facts = to_model_facts(found, resolved.repo_id, resolved.revision, resolved.commit)
        await run_in_threadpool(self.save, facts)
        return facts
