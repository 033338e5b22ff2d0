"""Classification as the service runs it: per commit for the server, per target for the CLI.

Both go through the one pipeline (`gate.compute.pipeline.classify_repository`) with the same
ruleset and trusted declarer keys: the server reads the commit through the source it serves
from, `gate classify`/`gate estimate` through a folder or an `UpstreamSource` on `--endpoint`.
The server keeps each result in the records store per (repo, commit), so a commit is classified
once, not per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from anyio.to_thread import run_sync
from cryptography.hazmat.primitives.asymmetric import ec

from gate.compute.assemble import TrainingInputs
from gate.compute.classify import Classification, classify_from_parts, to_model_facts
from gate.compute.lineage import BaseLookups
from gate.compute.pipeline import classify_repository
from gate.compute.publication import Publication, matching, with_observations
from gate.compute.read_progress import Progress, ReadCounter
from gate.compute.reader import FolderReader, RepoReader
from gate.compute.safetensors_header import read_local_header
from gate.core.ruleset import Ruleset
from gate.core.values import ComputeInterval, ModelFacts
from gate.errors import InputError, MetadataError, NotFoundError, SignatureError, UpstreamError
from gate.hub.publication_sources import PublicationSources
from gate.hub.source import ModelSource, Resolved
from gate.hub.upstream import UpstreamSource
from gate.rules.known_models import KnownModels, load_default_known_models
from gate.service.readers import SourceReader

BASE_CLASSIFICATIONS = 16
"""Most bases one classification may classify through the source, its whole lineage together."""


async def classify_commit(
    source: ModelSource,
    resolved: Resolved,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
    inputs: TrainingInputs = TrainingInputs(),
    *,
    known: KnownModels | None = None,
    recorded: Callable[[str], ComputeInterval | None] | None = None,
    depth: int = 0,
    budget: list[int] | None = None,
    reads: ReadCounter | None = None,
) -> Classification:
    """Classify one commit of a repository in a model source (raises MetadataError).

    A base model it names is looked up in `recorded`, then the `known` table, then classified
    through the same source (its default branch), to `MAX_DEPTH` generations and at most
    `BASE_CLASSIFICATIONS` bases in all (`budget`, shared down the lineage): bases beyond it are
    unknown, so a card naming many bases that name many bases costs a bounded amount of work.
    `reads` counts the reads of this commit and its bases (the CLI's progress)."""
    budget = budget if budget is not None else [BASE_CLASSIFICATIONS]

    async def classify_base(name: str, at_depth: int) -> ComputeInterval | None:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        try:
            base = await source.resolve(name, "main")
            found = await classify_commit(
                source,
                base,
                ruleset,
                trusted_declarers,
                known=known,
                recorded=recorded,
                depth=at_depth,
                budget=budget,
                reads=reads,
            )
        except (NotFoundError, UpstreamError, MetadataError, InputError, SignatureError):
            return None  # a base the gate cannot classify is a base it does not know
        return found.compute

    lookups = BaseLookups(
        recorded=recorded or (lambda _name: None),
        known=_table_lookup(known),
        classify=classify_base,
    )
    reader: RepoReader = SourceReader(source, resolved)
    if reads is not None:
        reader = reads.wrap(reader)
    return await classify_repository(
        reader, ruleset, trusted_declarers, inputs=inputs, lookups=lookups, depth=depth
    )


def _table_lookup(known: KnownModels | None) -> Callable[[str], ComputeInterval | None]:
    table = known if known is not None else load_default_known_models()

    def lookup(name: str) -> ComputeInterval | None:
        row = table.lookup(name)
        return None if row is None else row.interval()

    return lookup


async def fold_publication(
    sources: PublicationSources | None,
    source: ModelSource,
    ruleset: Ruleset,
    repo_id: str,
    commit: str | None,
    published: bool | None,
    evidence: str | None,
) -> Publication:
    """A classification's publication status with what the publication sources say now, for
    the bytes `source` serves: a source's answer counts only when it lists the same files with
    the same digests at this commit (a store's commit id is only a folder name)."""
    current = Publication(published, evidence or "")
    if sources is None or commit is None:
        return current
    seen = await sources.observe(repo_id, commit)
    if not seen:
        return current
    local = {e.path: (e.sha256, e.git_oid) for e in await source.list_files(repo_id, commit)}
    return with_observations(ruleset, current, matching(seen, local))


async def _classify_on_hub(
    endpoint: str,
    repo_id: str,
    revision: str,
    token: str | None,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
    inputs: TrainingInputs,
    known: KnownModels | None,
    publication: PublicationSources | None,
    reads: ReadCounter | None,
) -> Classification:
    source = UpstreamSource(endpoint, token)
    try:
        resolved = await source.resolve(repo_id, revision)
        found = await classify_commit(
            source, resolved, ruleset, trusted_declarers, inputs, known=known, reads=reads
        )
        folded = await fold_publication(
            publication, source, ruleset, resolved.repo_id, resolved.commit,
            found.published, found.publication_evidence,
        )  # fmt: skip
        return replace(found, published=folded.published, publication_evidence=folded.evidence)
    finally:
        await source.aclose()
        if publication is not None:
            await publication.aclose()


def classify_target(
    target: str | None,
    ruleset: Ruleset,
    trusted_declarers: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    endpoint: str | None = None,
    revision: str = "main",
    token: str | None = None,
    inputs: TrainingInputs = TrainingInputs(),
    known: KnownModels | None = None,
    publication_sources: Sequence[str] = (),
    publication_max_age: timedelta = timedelta(hours=24),
    progress: Progress | None = None,
) -> Classification:
    """What `gate classify` and `gate estimate` classify: nothing (flags only), a repository on
    `endpoint` read header-only, a model folder, or one safetensors file.

    The same lookups as the server's: named bases in the known-models table (and, on a hub,
    classified through it), publication from the configured publication sources. `progress` is
    told of every read of the model's files (`gate.compute.read_progress`)."""
    reads = None if progress is None else ReadCounter(progress)
    if target is None:
        return classify_from_parts(ruleset, inputs=inputs)
    if endpoint:
        sources = (
            PublicationSources(publication_sources, max_age=publication_max_age)
            if publication_sources
            else None
        )
        return asyncio.run(
            _classify_on_hub(
                endpoint,
                target,
                revision,
                token,
                ruleset,
                trusted_declarers,
                inputs,
                known,
                sources,
                reads,
            )
        )
    path = Path(target)
    if path.is_dir():
        lookups = BaseLookups(known=_table_lookup(known))
        folder: RepoReader = FolderReader(path)
        if reads is not None:
            folder = reads.wrap(folder)
        return asyncio.run(
            classify_repository(folder, ruleset, trusted_declarers, inputs=inputs, lookups=lookups)
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
        known_models: KnownModels | None = None,
        recorded: Callable[[str], ComputeInterval | None] | None = None,
        publication: PublicationSources | None = None,
    ) -> None:
        self.source = source
        self.ruleset = ruleset
        self.load = load
        self.save = save
        self.trusted_declarers = dict(trusted_declarers or {})
        self.max_entries = max_entries
        self.known_models = known_models
        self.recorded = recorded
        self.publication = publication
        self._known: OrderedDict[tuple[str, str], ModelFacts] = OrderedDict()
        self._published: dict[tuple[str, str], tuple[float, ModelFacts]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def facts(self, resolved: Resolved) -> ModelFacts:
        key = (resolved.repo_id, resolved.commit)
        known = self._known.get(key)
        if known is None:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:  # one classification per commit, however many first requests
                known = self._known.get(key)
                if known is None:
                    known = await self._load_or_classify(resolved)
                    self._known[key] = known
                    if len(self._known) > self.max_entries:
                        self._known.popitem(last=False)
            self._locks.pop(key, None)
        if self.publication is None:
            return known
        return await self._with_publication(key, known)

    async def _with_publication(self, key: tuple[str, str], known: ModelFacts) -> ModelFacts:
        """The kept facts with what the publication sources say, asked again once stale (the
        sources remember their answers for the configured age, so this is a lookup then)."""
        assert self.publication is not None
        now = time.monotonic()
        folded = self._published.get(key)
        if folded is not None and folded[0] > now:
            return folded[1]
        found = await fold_publication(
            self.publication, self.source, self.ruleset, known.repo_id, known.commit,
            known.published, known.publication_evidence,
        )  # fmt: skip
        facts = replace(known, published=found.published, publication_evidence=found.evidence)
        # Re-fold within a minute at most, so a source's fresh answer is seen soon after.
        self._published[key] = (now + min(60.0, self.publication.max_age.total_seconds()), facts)
        if len(self._published) > self.max_entries:
            self._published.pop(next(iter(self._published)))
        return facts

    async def _load_or_classify(self, resolved: Resolved) -> ModelFacts:
        stored = await run_sync(self.load, resolved.repo_id, resolved.commit)
        if stored is not None:
            return stored
        try:
            found = await classify_commit(
                self.source,
                resolved,
                self.ruleset,
                self.trusted_declarers,
                known=self.known_models,
                recorded=self.recorded,
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
