"""The one way a transfer's context is put together, for /resolve and for snapshot bundles."""

from __future__ import annotations

from gate.hub.source import FileEntry, Resolved
from gate.service.classifying import ModelFactsProvider
from gate.service.file_bytes import FileBytes
from gate.service.gatekeeper import Caller, Gatekeeper, TransferContext
from gate.store.record import RequestMeta


async def transfer_context(
    gatekeeper: Gatekeeper,
    facts: ModelFactsProvider | None,
    caller: Caller,
    resolved: Resolved,
    entry: FileEntry,
    *,
    file_bytes: FileBytes,
    destination: str | None,
    client: str | None,
    method: str,
    byte_range: tuple[int, int] | None,
    header_window: int | None = None,
) -> TransferContext:
    """What the gatekeeper decides on: the file bound to its commit, and the model's facts.

    Whether the file is parameters comes from its name and, when the name says it is not, its
    bytes (`FileBytes`): a `config.json` holding a tensor container is parameters.

    `header_window`: length of the file's safetensors header window when the caller knows it
    (a range GET); a GET of a parameter file counts as a transfer (license caps) unless its
    range lies inside that window.
    """
    assert entry.sha256 is not None, "ModelSource.file always knows the sha256"
    is_parameters = (await file_bytes.check(gatekeeper, resolved, entry)).parameters
    # Only parameter files need the model's facts; config and tokenizer are decided without.
    model_facts = await facts.facts(resolved) if is_parameters and facts is not None else None
    return TransferContext(
        caller=caller,
        repo_id=resolved.repo_id,
        revision=resolved.revision,
        commit=resolved.commit,
        path=entry.path,
        size=entry.size,
        sha256=entry.sha256,
        is_parameters=is_parameters,
        destination=destination,
        client=client,
        method=method,
        byte_range=byte_range,
        model_facts=model_facts,
        counts_transfer=method == "GET"
        and is_parameters
        and (byte_range is None or header_window is None or byte_range[1] > header_window),
    )


def request_meta(ctx: TransferContext, decision_id: str) -> RequestMeta:
    """What the audit entry records of the request besides the decision's inputs."""
    return RequestMeta(
        recipient_id=ctx.caller.recipient_id,
        repo_id=ctx.repo_id,
        revision=ctx.revision,
        commit=ctx.commit,
        file=ctx.path,
        sha256=ctx.sha256,
        size=ctx.size,
        client_address=ctx.client,
        method=ctx.method,
        range=None if ctx.byte_range is None else f"{ctx.byte_range[0]}-{ctx.byte_range[1]}",
        request_id=decision_id,
    )
