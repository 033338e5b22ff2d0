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
import json
import struct
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from gate.compute.assemble import TrainingInputs
from gate.compute.classify import INDEX_FILE, Classification, classify_from_parts, shard_paths
from gate.compute.declaration import VerifiedDeclaration, read_unverified, verify_declaration
from gate.core.ruleset import Ruleset
from gate.errors import MetadataError, SignatureError
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


def _json(text: str | None, where: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MetadataError(where, f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MetadataError(where, "expected a JSON object")
    return value


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


def _declaration(
    text: str | None, trusted: Mapping[str, ec.EllipticCurvePublicKey], where: str
) -> tuple[VerifiedDeclaration | None, str | None]:
    """The repository's declaration: verified when a trusted key signed it, else a claim."""
    envelope = _json(text, where)
    if envelope is None:
        return None, None
    try:
        return verify_declaration(envelope, trusted, where), None
    except SignatureError as exc:
        claim = read_unverified(envelope, where)
        return claim, f"{where}: not signed by a trusted declarer key ({exc}); read as a claim"


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
    index = _json(index_text, f"{where}/{INDEX_FILE}")
    shards = shard_paths(list(files), index)
    headers = await asyncio.gather(*(_header(source, resolved, files[s]) for s in shards))
    declaration, warning = _declaration(
        declaration_text, trusted_declarers, f"{where}/{DECLARATION_FILE}"
    )
    classification = classify_from_parts(
        ruleset,
        headers=list(headers),
        config=_json(config_text, f"{where}/config.json"),
        card_text=card_text,
        inputs=TrainingInputs(declaration=declaration),
        source=where,
    )
    if warning is None:
        return classification
    return replace(classification, warnings=(*classification.warnings, warning))
