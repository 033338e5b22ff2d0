"""The one seam between the HTTP layer and the records: who is calling, and may these bytes go.

The server parses requests, binds revisions to commits and streams bytes; everything that needs
the records store (credentials, model facts, the decision, the audit chain, inquiries) happens
behind `Gatekeeper`. Methods are synchronous (the store is); the server calls them in a worker
thread. Any `GateError` they raise is answered in one place (`gate.server.dialect`); a
`StoreError` means no bytes leave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gate.core.files import FileCheck
from gate.core.values import Decision, ModelFacts, Verdict
from gate.store.record import Mode

__all__ = [
    "Caller",
    "GateAnswer",
    "Gatekeeper",
    "Mode",
    "TransferContext",
    "answer_from_decision",
    "explain",
]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated recipient, as far as the server needs to know it."""

    recipient_id: str
    name: str
    default_destination: str | None
    destinations: tuple[str, ...] = ()
    token: str | None = field(default=None, repr=False, compare=False)
    """The bearer token it came with, when authenticated from memory: the decision checks it
    again against the records in its own call (so a revocation still stops this request)."""


@dataclass(frozen=True, slots=True)
class TransferContext:
    """Everything one `/resolve` request asks for, bound to a commit.

    `repo_id` is the source's canonical spelling; `revision` what the client asked for;
    `destination` the `X-Gate-Destination` header (None: the caller's default); `byte_range` the
    half-open range asked for (None: the whole file). `counts_transfer`: the request would send
    bytes of a parameter file beyond its safetensors header (a GET not confined to the header
    window); it takes one transfer of a capped license unless the file was counted before.
    """

    caller: Caller
    repo_id: str
    revision: str
    commit: str
    path: str
    size: int
    sha256: str
    is_parameters: bool
    """From the name and, when the name says not parameters, the bytes (`FileBytes`)."""
    destination: str | None
    client: str | None
    method: str
    byte_range: tuple[int, int] | None
    model_facts: ModelFacts | None = None
    """What the classifier knows of (repo, commit); None: not classified (all unknown)."""
    counts_transfer: bool = False


@dataclass(frozen=True, slots=True)
class GateAnswer:
    """What the gatekeeper decided and recorded for one request.

    `allowed`: bytes may flow (also true in shadow mode); `enforced`: false in shadow mode;
    `message`: one ASCII line, no trailing period, for `X-Error-Message`; `decision`: the whole
    decision JSON; `headers`: extra response headers (e.g. a signed receipt); `warning`: text for
    `X-HF-Warning` (shadow mode).
    """

    decision_id: str
    verdict: Verdict
    basis: str
    allowed: bool
    enforced: bool
    message: str
    decision: Mapping[str, Any]
    inquiry_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    warning: str | None = None


class Gatekeeper(Protocol):
    mode: Mode
    """enforce: block what the decision blocks; shadow: record it and let the bytes through."""

    def authenticate(self, token: str | None) -> Caller:
        """The caller behind a bearer token; AuthError when missing, unknown, revoked, expired."""
        ...

    def is_parameters(self, path: str) -> bool:
        """Whether a repository file holds parameters (the ruleset's patterns)."""
        ...

    def check_file(
        self, path: str, head: bytes | None = None, size: int | None = None
    ) -> FileCheck:
        """The ruleset (set)'s fail-closed file test on a name and, when known, the file's
        first bytes (or all of them) and size (`RulesetSet.check_file`)."""
        ...

    def check(self, ctx: TransferContext) -> GateAnswer:
        """Decide, append the decision to the audit chain, and answer. StoreError: no bytes."""
        ...

    async def check_in_memory(self, ctx: TransferContext) -> GateAnswer | None:
        """`check` without a worker thread, when everything it reads is in memory; None: call
        `check` (from a thread). Same guarantees: decided, appended, then answered."""
        ...

    def record_outcome(self, decision_id: str, outcome: str, detail: str) -> None:
        """Record what became of an allowed transfer ("aborted", "completed", ...)."""
        ...

    def answer_inquiry(
        self, caller: Caller, inquiry_id: str, answers: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The caller answers its open inquiry; returns the inquiry's new state as JSON."""
        ...

    def inquiry(self, caller: Caller, inquiry_id: str) -> dict[str, Any]:
        """The caller's own inquiry as JSON (questions with answer shapes, state, answers);
        NotFoundError for another recipient's, so its existence is not revealed."""
        ...

    def receipt(self, caller: Caller, decision_id: str) -> dict[str, Any]:
        """The signed receipt (DSSE envelope) of a decision, only for the recipient it names;
        NotFoundError otherwise, so a receipt's existence is not revealed to others."""
        ...

    def records_generation(self) -> int:
        """The records generation now: bundles built from the records are keyed by it, so a
        change to a recipient, license, designation or classification invalidates them."""
        ...

    def stored_snapshot(
        self, caller: Caller, repo_id: str, commit: str, bucket: int, generation: int
    ) -> bytes | None:
        """The snapshot bundle kept for this caller and commit in time bucket `bucket` or the
        one before (so a HEAD and a GET across a bucket boundary agree), built under records
        `generation`, or None."""
        ...

    def keep_snapshot(
        self,
        caller: Caller,
        repo_id: str,
        commit: str,
        bucket: int,
        generation: int,
        data: bytes,
    ) -> bytes:
        """Keep a bundle for the bucket; returns the bundle on record, which is another
        worker's or replica's when it kept one first (all then serve the same bytes)."""
        ...

    def ready(self) -> None:
        """Raise StoreError when the records store is unreachable."""
        ...


def _ascii_line(text: str) -> str:
    line = " ".join(text.split())
    return line.encode("ascii", "replace").decode("ascii").rstrip(". ")


def explain(decision: Decision, ctx: TransferContext, inquiry_id: str | None) -> str:
    """The answer's message up to the decision id: one ASCII line, the same for every request
    that gets this decision of this file."""
    where = f"{ctx.repo_id}@{ctx.commit[:12]} {ctx.path}"
    # The reason that carries the basis says why; the others are the steps that led there.
    matching = [r for r in decision.reasons if r.code == decision.basis.value]
    chosen = matching or list(decision.reasons[-1:])
    reason = chosen[0].text if chosen else ""
    parts = [f"gate: {decision.verdict.value} ({decision.basis.value}) for {where}"]
    # A license taken away because its cap is used up is what the recipient needs to hear.
    parts += [r.text for r in decision.reasons if r.code == "license_cap_exhausted"]
    if reason:
        parts.append(reason)
    if decision.verdict is Verdict.HOLD and inquiry_id is not None:
        parts.append(
            # Kept short: the whole line is capped, and what follows it must still fit.
            f"inquiry {inquiry_id} is open: `python -m weight_gate_hf inquiry show|answer"
            f" {inquiry_id}` (or GET, then POST /api/gate/inquiries/{inquiry_id}/answers)"
        )
    return _ascii_line("; ".join(_ascii_line(p) for p in parts))


def answer_from_decision(
    decision_id: str,
    decision: Decision,
    ctx: TransferContext,
    *,
    mode: Mode,
    inquiry_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    explained: tuple[str, Mapping[str, Any]] | None = None,
) -> GateAnswer:
    """Build the server's answer from a recorded decision (shared by every gatekeeper).

    The message names the verdict, basis and decision id, the first reason, and for a `hold`
    the inquiry and how to answer it, so the unmodified client shows the user what to do.
    `explained`: `explain(decision, ctx, inquiry_id)` and `decision.to_dict()` made before.
    """
    shadow = mode == "shadow"
    allowed = decision.allowed or shadow
    head, decision_dict = explained or (explain(decision, ctx, inquiry_id), decision.to_dict())
    message = f"{head}; decision {decision_id}"
    warning = None
    if shadow and not decision.allowed:
        warning = f"gate-shadow; shadow mode, not enforced: {message}"
    return GateAnswer(
        decision_id=decision_id,
        verdict=decision.verdict,
        basis=decision.basis.value,
        allowed=allowed,
        enforced=not shadow,
        message=message,
        decision=decision_dict,
        inquiry_id=inquiry_id,
        headers=dict(headers or {}),
        warning=warning,
    )
