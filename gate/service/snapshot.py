"""The snapshot sidecar: an OpenSSF model-signing bundle per recipient, listed in the tree.

For a recipient and a commit, the gate decides every file (each decision recorded like any
other), and signs a model-signing bundle over the sha256 of the files it allowed, with the
recipient and decision ids inside. The bundle is listed in the tree as `weight-gate.sig`, so
`snapshot_download` fetches it beside the weights, and anyone can check the folder with the
stock `model_signing verify key` and the gate's public key. Digests are the ones the source
already knows: nothing is re-hashed.

The client asks for the file's size with a HEAD and then checks the GET against it, so the bytes
must not change between the two, whichever worker or replica answers: a bundle is built once per
(recipient, commit, time bucket of `ttl_seconds`, records generation) and kept in the records,
where the first one kept wins; each process also keeps it in memory under the same key. A change
to the records (recipient, license, designation, classification...) moves the generation, so
every process builds a new bundle on its next request instead of vouching for what no longer
holds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from anyio.to_thread import run_sync

from gate.core.values import Verdict
from gate.crypto.keys import Signer
from gate.crypto.snapshot_bundle import SIDECAR_PATH, build_snapshot_bundle, encode_bundle
from gate.hub.source import FileEntry, ModelSource, Resolved, git_blob_oid
from gate.service.classifying import ModelFactsProvider
from gate.service.context import transfer_context
from gate.service.file_bytes import FileBytes
from gate.service.gatekeeper import Caller, Gatekeeper

__all__ = ["SIDECAR_PATH", "Sidecars"]


@dataclass(frozen=True, slots=True)
class _Built:
    data: bytes
    at: float


class Sidecars:
    """Builds and keeps the per-recipient snapshot bundles of one server process."""

    def __init__(
        self,
        source: ModelSource,
        gatekeeper: Gatekeeper,
        signer: Signer,
        facts: ModelFactsProvider | None,
        *,
        ttl_seconds: float = 3600.0,
        max_entries: int = 1024,
        file_bytes: FileBytes | None = None,
    ) -> None:
        self.source = source
        self.gatekeeper = gatekeeper
        self.signer = signer
        self.facts = facts
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.file_bytes = file_bytes if file_bytes is not None else FileBytes(source)
        self._built: OrderedDict[tuple[str, str, str, int], _Built] = OrderedDict()

    async def entry(self, caller: Caller, resolved: Resolved, client: str | None) -> FileEntry:
        """The sidecar as a file of the commit (non-LFS, like any small text file)."""
        data = await self.content(caller, resolved, client)
        return FileEntry(SIDECAR_PATH, len(data), None, git_blob_oid(data), lfs=False)

    async def content(self, caller: Caller, resolved: Resolved, client: str | None) -> bytes:
        keeper = self.gatekeeper
        generation = await run_sync(keeper.records_generation)
        key = (caller.recipient_id, resolved.repo_id, resolved.commit, generation)
        built = self._built.get(key)
        if built is not None and time.monotonic() - built.at < self.ttl_seconds:
            return built.data
        bucket = int(time.time() // self.ttl_seconds)
        ids = (caller, resolved.repo_id, resolved.commit, bucket, generation)
        data = await run_sync(keeper.stored_snapshot, *ids)
        if data is None:
            fresh = await self._build(caller, resolved, client)
            data = await run_sync(keeper.keep_snapshot, *ids, fresh)
        self._built[key] = _Built(data, time.monotonic())
        self._built.move_to_end(key)
        while len(self._built) > self.max_entries:
            self._built.popitem(last=False)
        return data

    async def _build(self, caller: Caller, resolved: Resolved, client: str | None) -> bytes:
        files = await self.source.list_files(resolved.repo_id, resolved.commit)
        digests: dict[str, str] = {}
        decision_ids: dict[str, str] = {}
        for entry in files:
            if entry.path == SIDECAR_PATH:
                continue  # a repository's own file of that name is shadowed by the gate's
            found = await self.source.file(resolved.repo_id, resolved.commit, entry.path)
            ctx = await transfer_context(
                self.gatekeeper,
                self.facts,
                caller,
                resolved,
                found,
                file_bytes=self.file_bytes,
                destination=None,
                client=client,
                method="SNAPSHOT",
                byte_range=None,
            )
            answer = await run_sync(self.gatekeeper.check, ctx)
            # Vouch only for what the decision allowed (a shadow-mode pass is not allowed).
            if answer.verdict is Verdict.ALLOW:
                digests[found.path] = ctx.sha256
                decision_ids[found.path] = answer.decision_id
        bundle = build_snapshot_bundle(
            digests,
            self.signer,
            recipient_id=caller.recipient_id,
            decision_ids=decision_ids,
            repo_id=resolved.repo_id,
            commit=resolved.commit,
        )
        return encode_bundle(bundle)
