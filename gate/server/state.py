"""What every route shares: the source, the gatekeeper, the mode, metrics and small caches."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from gate.errors import AuthError
from gate.hub.source import BlobsOnDisk, ModelSource
from gate.server.flights import Flights
from gate.server.metrics import Metrics
from gate.service.classifying import ModelFactsProvider
from gate.service.file_bytes import FileBytes
from gate.service.gatekeeper import Caller, GateAnswer, Gatekeeper, Mode, TransferContext
from gate.service.snapshot import Sidecars

log = logging.getLogger("gate.server")
T = TypeVar("T")
RECORDS_CONCURRENCY = 4


@dataclass
class ServerState:
    source: ModelSource
    gatekeeper: Gatekeeper
    tree_page_size: int = 1000
    resume_verify_limit: int = 1 << 30
    """Resumes that start later than this are not re-hashed from byte 0 (about 1 s of sha256)."""
    facts: ModelFactsProvider | None = None
    """Classifies each commit once; None: the gatekeeper knows the facts itself (tests)."""
    sidecars: Sidecars | None = None
    """Per-recipient snapshot bundles (None: no signing key, no sidecar)."""
    public_keys: dict[str, object] | None = None
    """The JWK set served at /.well-known/gate-keys.json (None: no signing keys)."""
    metrics: Metrics = field(default_factory=Metrics)
    header_windows: OrderedDict[str, int] = field(default_factory=OrderedDict)
    """sha256 -> length of the safetensors header window (8 + N), 0 when not a valid header."""
    loading_hints: OrderedDict[tuple[str, str], dict[str, str]] = field(default_factory=OrderedDict)
    """(repo, commit) -> `pipeline_tag`/`library_name` for model info (see gate.server.hints)."""
    corrupt: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(repo, commit, path) -> why: files whose bytes failed their digest since start-up."""
    flights: Flights = field(default_factory=Flights)
    """Concurrent requests needing the same read of the records wait for one."""
    file_bytes: FileBytes = field(init=False)
    """What each file's bytes say (looked at once per file and commit), over `source`."""

    records_limiter: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(RECORDS_CONCURRENCY)
    )
    """Calls into the records (authenticate, check) run in a few threads, first come first
    served: under load, many threads only fight over the GIL and the write lock, and requests
    that lose that fight wait long enough for the client's 10 s header timeout."""

    on_disk: BlobsOnDisk | None = field(init=False)
    """The source, when it keeps bytes on this machine's disk (zero-copy); else None."""

    def __post_init__(self) -> None:
        self.file_bytes = FileBytes(self.source)
        # Asked once: a runtime protocol check costs more per request than the answer itself.
        self.on_disk = self.source if isinstance(self.source, BlobsOnDisk) else None

    @property
    def mode(self) -> Mode:
        """The gatekeeper's mode: the one value that says whether the gate enforces."""
        return self.gatekeeper.mode

    async def records_call(self, function: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(function, *args, limiter=self.records_limiter)

    async def decide(self, ctx: TransferContext) -> GateAnswer:
        """The gatekeeper's answer: from memory on the event loop when it can, else from the
        records in a worker thread."""
        gatekeeper = self.gatekeeper
        answer = await gatekeeper.check_in_memory(ctx)
        if answer is not None:
            return answer
        # Requests for the same file by the same recipient wait for one read of the records.
        thing = ("decide", ctx.caller.recipient_id, ctx.repo_id, ctx.commit, ctx.path)
        return await self.flights.run(
            thing,
            lambda: gatekeeper.check_in_memory(ctx),
            lambda: self.records_call(gatekeeper.check, ctx),
        )

    async def authenticate(self, request: Request, *, decided: bool = False) -> Caller:
        """The caller. `decided`: the request goes on to `Gatekeeper.check`, which checks the
        token against the records again before any byte, so a token seen before may be answered
        from memory here (no thread hop). Every other route asks the records."""
        token = bearer_token(request)
        remembered = getattr(self.gatekeeper, "remembered", None) if decided else None
        if remembered is None or token is None:
            return await self.records_call(self.gatekeeper.authenticate, token)
        caller: Caller | None = remembered(token)
        if caller is not None:
            return caller

        async def from_memory() -> Caller | None:
            found: Caller | None = remembered(token)
            return found

        return await self.flights.run(
            ("token", token),
            from_memory,
            lambda: self.records_call(self.gatekeeper.authenticate, token),
        )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header is not a bearer token")
    return token.strip()
