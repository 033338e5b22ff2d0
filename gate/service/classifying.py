"""Classification as the service runs it: per commit for the server, per target for the CLI.

Both go through the one pipeline (`gate.compute.pipeline.classify_repository`) with the same
ruleset and trusted declarer keys: the server reads the commit through the source it serves
from, `gate classify`/`gate estimate` through a folder or an `UpstreamSource` on `--endpoint`.
The server keeps each result in the records store per (repo, commit), so a commit is classified
once, not per request.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

from anyio.to_thread import run_sync
from cryptography.hazmat.primitives.asymmetric import ec

from gate.compute.assemble import TrainingInputs
from gate.compute.classify import Classification, classify_from_parts, to_model_facts
from gate.compute.pipeline import classify_repository
from gate.compute.reader import FolderReader
from gate.compute.safetensors_header import read_local_header
from gate.core.ruleset import Ruleset
from gate.core.values import ComputeInterval, ModelFacts
from gate.errors import InputError, MetadataError, SignatureError
from gate.hub.source import ModelSource, Resolved
from gate.hub.upstream import UpstreamSource
from gate.service.readers import SourceReader


async def classify_commit(
    source: ModelSource,
    resolved: Resolved,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
    inputs: TrainingInputs = TrainingInputs(),
) -> Classification:
    """Classify one commit of a repository in a model source (raises MetadataError)."""
    reader = SourceReader(source, resolved)
    return await classify_repository(reader, ruleset, trusted_declarers, inputs=inputs)


async def _classify_on_hub(
    endpoint: str,
    repo_id: str,
    revision: str,
    token: str | None,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
    inputs: TrainingInputs,
) -> Classification:
    source = UpstreamSource(endpoint, token)
    try:
        resolved = await source.resolve(repo_id, revision)
        return await classify_commit(source, resolved, ruleset, trusted_declarers, inputs)
    finally:
        await source.aclose()


def classify_target(
    target: str | None,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    endpoint: str | None = None,
    revision: str = "main",
    token: str | None = None,
    inputs: TrainingInputs = TrainingInputs(),
) -> Classification:
    """What `gate classify` and `gate estimate` classify: nothing (flags only), a repository on
    `endpoint` read header-only, a model folder, or one safetensors file."""
    if target is None:
        return classify_from_parts(ruleset, inputs=inputs)
    if endpoint:
        return asyncio.run(
            _classify_on_hub(endpoint, target, revision, token, ruleset, trusted_declarers, inputs)
        )
    path = Path(target)
    if path.is_dir():
        return asyncio.run(
            classify_repository(FolderReader(path), ruleset, trusted_declarers, inputs=inputs)
        )
    if path.is_file():
        header = read_local_header(path)
        return classify_from_parts(ruleset, headers=[header], inputs=inputs, source=str(path))
    raise InputError(
        "source", f"{target}: no such file or folder (to read a repository id, pass --endpoint)"
    )


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
        save: Callable[[ModelFacts], ModelFacts | None],
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
        stored = await run_sync(self.load, resolved.repo_id, resolved.commit)
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
        # The first record of a commit wins across replicas: decide on the one kept.
        kept = await run_sync(self.save, facts)
        return facts if kept is None else kept
