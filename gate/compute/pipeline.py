"""The one classification pipeline: a repository at a commit -> compute, publication, evidence.

`gate classify`, `gate estimate REPO|FOLDER` and the server all call `classify_repository`, each
with a `RepoReader` (`gate.compute.reader`) over where the model is, and the same settings
(ruleset, trusted declarer keys): the same commit gives the same answer everywhere.

It reads the small files (config.json, README.md, the shard index, a compute declaration) and
the safetensors headers only (one prefix read per shard, a second when the header is larger,
shards concurrently), and hands them to the classifier's pure core (`classify_from_parts`).

A repository may carry a signed compute declaration as `compute-declaration.json` (a DSSE
envelope, see `gate declare`). It counts as authoritative only when its signer is one of the
operator's trusted declarer keys; otherwise it is read as an unverified claim and says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric import ec

from gate.compute.assemble import TrainingInputs
from gate.compute.classify import (
    INDEX_FILE,
    Classification,
    classify_from_parts,
    json_object,
    shard_paths,
    uncounted_parameter_files,
)
from gate.compute.declaration import VerifiedDeclaration, read_unverified, verify_declaration
from gate.compute.lineage import BaseLookups, named_bases, resolve_bases
from gate.compute.model_card import parse_model_card
from gate.compute.publication import PublicationOverride
from gate.compute.reader import RepoFile, RepoReader
from gate.compute.safetensors_header import (
    SafetensorsHeader,
    declared_header_length,
    parse_header,
)
from gate.core.ruleset import Ruleset
from gate.errors import MetadataError, SignatureError

DECLARATION_FILE = "compute-declaration.json"
SMALL_FILE_LIMIT = 16 * 1024 * 1024
"""Largest config, card, index or declaration the classifier reads."""
INITIAL_READ = 64 * 1024
"""First read of a safetensors file: most headers (a 7B model's is about 25 kB) fit in it."""


async def read_text(reader: RepoReader, files: Mapping[str, RepoFile], path: str) -> str | None:
    """A small UTF-8 file of the repository, or None when it has none by that name."""
    entry = files.get(path)
    if entry is None:
        return None
    where = f"{reader.where}/{path}"
    if entry.size > SMALL_FILE_LIMIT:
        raise MetadataError(where, f"{entry.size} bytes is too large")
    try:
        return (await reader.read_prefix(entry, entry.size)).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(where, "not UTF-8 text") from exc


async def read_header(reader: RepoReader, entry: RepoFile) -> SafetensorsHeader:
    """A safetensors file's header, its first 8 + N bytes only (never its tensors' data)."""
    where = f"{reader.where}/{entry.path}"
    data = await reader.read_prefix(entry, min(entry.size, INITIAL_READ))
    length = declared_header_length(data, where, entry.size)
    if len(data) < 8 + length:
        data = await reader.read_prefix(entry, 8 + length)
    return parse_header(data[: 8 + length], where, entry.size)


async def binding_problem(
    found: VerifiedDeclaration,
    reader: RepoReader,
    files: Mapping[str, RepoFile],
    is_parameters: Callable[[str], bool],
) -> str | None:
    """Why a declaration does not speak for this commit, or None when it does.

    A declaration signed for one model must not clear another: it has to name this repository,
    and either this commit or the sha256 of every parameter file in it. (A declaration shipped
    inside the repository cannot name its own commit, so digests are the usual binding; a folder
    has neither name nor commit, so only digests bind it.)
    """
    model = found.declaration.model
    if reader.repo_id is not None and model.repo.casefold() != reader.repo_id.casefold():
        return f"it declares {model.repo!r}, not {reader.repo_id!r}"
    if model.commit is not None and reader.commit is not None and model.commit == reader.commit:
        return None
    digests = model.weight_digests or {}
    if not digests:
        return f"it names commit {model.commit}, not {reader.commit}"
    for path, digest in digests.items():
        entry = files.get(path)
        if entry is None or (await reader.file_sha256(entry)) != digest:
            return f"its digest for {path!r} does not match this commit's file"
    uncovered = sorted(p for p in files if is_parameters(p) and p not in digests)
    if uncovered:
        return f"it does not cover the parameter file {uncovered[0]!r}"
    return None


async def _declaration(
    reader: RepoReader,
    files: Mapping[str, RepoFile],
    ruleset: Ruleset,
    trusted: Mapping[str, ec.EllipticCurvePublicKey],
) -> tuple[VerifiedDeclaration | None, str | None]:
    """The repository's declaration: verified when a trusted key signed it, else a claim;
    ignored (with a warning) when it does not speak for this commit."""
    where = f"{reader.where}/{DECLARATION_FILE}"
    envelope = json_object(await read_text(reader, files, DECLARATION_FILE), where)
    if envelope is None:
        return None, None
    warning = None
    try:
        found = verify_declaration(envelope, trusted, where)
    except SignatureError as exc:
        found = read_unverified(envelope, where)
        warning = f"{where}: not signed by a trusted declarer key ({exc}); read as a claim"
    problem = await binding_problem(found, reader, files, ruleset.is_parameters)
    if problem is not None:
        return None, f"{where}: ignored, {problem}"
    return found, warning


async def classify_repository(
    reader: RepoReader,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    inputs: TrainingInputs = TrainingInputs(),
    override: PublicationOverride | None = None,
    lookups: BaseLookups = BaseLookups(),
    depth: int = 0,
) -> Classification:
    """Classify one repository (at one commit) from its metadata; raises MetadataError.

    `inputs` are facts given besides the repository (the CLI's flags); a declaration given there
    is used instead of the repository's own. `lookups` say where the compute of a base model the
    card or the declaration names is found (records, the known-models table, the same source);
    a base found nowhere leaves the high end unknown.
    """
    files = {entry.path: entry for entry in await reader.list_files()}
    where = reader.where
    config_text, card_text, index_text = await asyncio.gather(
        read_text(reader, files, "config.json"),
        read_text(reader, files, "README.md"),
        read_text(reader, files, INDEX_FILE),
    )
    index = json_object(index_text, f"{where}/{INDEX_FILE}")
    shards = shard_paths(list(files), index)
    headers = await asyncio.gather(*(read_header(reader, files[s]) for s in shards))
    warning = None
    if inputs.declaration is None:
        declaration, warning = await _declaration(reader, files, ruleset, trusted_declarers)
        inputs = replace(inputs, declaration=declaration)
    card = parse_model_card(card_text, f"{where}/README.md") if card_text is not None else None
    declared = inputs.declaration.declaration if inputs.declaration is not None else None
    names = named_bases(
        declared.base_model.repo if declared is not None and declared.base_model else None,
        card.base_models if card is not None else (),
    )
    if names:
        found = await resolve_bases(
            [n for n in names if n.casefold() not in {k.casefold() for k in inputs.bases}],
            lookups,
            depth=depth,
            child=reader.repo_id,
        )
        inputs = replace(inputs, bases={**found, **inputs.bases})
    classification = classify_from_parts(
        ruleset,
        headers=list(headers),
        config=json_object(config_text, f"{where}/config.json"),
        card_text=card_text,
        repo_info=await reader.repo_info(),
        inputs=inputs,
        override=override,
        source=where,
        uncounted=uncounted_parameter_files(list(files), shards, ruleset),
    )
    if warning is None:
        return classification
    return replace(classification, warnings=(*classification.warnings, warning))
