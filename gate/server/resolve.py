"""`HEAD`/`GET /{repo}/resolve/{rev}/{path}`: decide, record, then stream or refuse.

Order matters for fail-closed behaviour: authenticate, bind the revision to a commit, find the
file's facts (size and sha256 known before any byte), ask the gatekeeper (which decides and
appends to the audit chain), and only then send. Every request is decided, HEAD and GET alike,
so a HEAD by one recipient grants nothing to a GET by another.

A refused safetensors parameter file still serves its header window (bytes 0 to 8 + N, the
length prefix and the JSON header) to a GET with a Range starting inside it, cut at the window's
end: `parse_safetensors_file_metadata` works and no parameter byte leaves. The header is checked
once per file to be a real header (see `_header_window`), so a file cannot turn its parameters
into "header", neither by claiming a huge header nor by hiding weights inside one.
"""

from __future__ import annotations

import struct
import time
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gate.compute.safetensors_header import DEFAULT_METADATA_CAP, MAX_HEADER_BYTES, header_window
from gate.errors import GateError
from gate.hub.source import FileEntry, Resolved, git_blob_oid
from gate.hub.verified import Identity, VerifiedBlobs, path_identity
from gate.rules.countries import normalize_country
from gate.server import dialect
from gate.server.paths import HubPath, parse_range
from gate.server.state import ServerState, log
from gate.server.streaming import DigestMismatch, Failure, plain_body, verified_body
from gate.server.zerocopy import SMALL, SendfileResponse, read_small
from gate.service.context import transfer_context
from gate.service.gatekeeper import Caller, GateAnswer
from gate.service.snapshot import SIDECAR_PATH

_MAX_WINDOWS = 4096


def _file_headers(entry: FileEntry, resolved: Resolved, answer: GateAnswer) -> dict[str, str]:
    etag = f'"{entry.etag}"'
    headers = {
        "X-Repo-Commit": resolved.commit,
        "ETag": etag,
        "X-Linked-Etag": etag,
        "X-Linked-Size": str(entry.size),
        "Accept-Ranges": "bytes",
        "X-Request-Id": answer.decision_id,
        "X-Gate-Decision": f"{answer.verdict.value}; {answer.basis}",
        **answer.headers,
    }
    if answer.warning:
        headers["X-HF-Warning"] = answer.warning
    return headers


async def _header_window(state: ServerState, resolved: Resolved, entry: FileEntry) -> int:
    """Length of the safetensors header window of a file, 0 when it has no real header.

    Real (RULES.md): it describes at least one tensor, the first tensor's data starts right
    after it and the tensors fill the file, its `__metadata__` is under the ruleset's cap, and
    names and white space leave no room for weights (`safetensors_header.header_window`).
    Otherwise those bytes are parameters: a HEAD or a Range inside them is refused like the rest.
    Decided once per file content and remembered.
    """
    key = entry.sha256 or entry.git_oid
    known = state.header_windows.get(key)
    if known is not None:
        return known
    window = 0
    if entry.path.endswith(".safetensors") and entry.size >= 8:
        src = state.source
        prefix = b"".join(
            [c async for c in src.open(resolved.repo_id, resolved.commit, entry, 0, 8)]
        )
        (length,) = struct.unpack("<Q", prefix)
        if 2 <= length <= min(MAX_HEADER_BYTES, entry.size - 8):
            raw = b"".join(
                [c async for c in src.open(resolved.repo_id, resolved.commit, entry, 8, 8 + length)]
            )
            window = header_window(prefix + raw, entry.path, entry.size, _metadata_cap(state))
    state.header_windows[key] = window
    if len(state.header_windows) > _MAX_WINDOWS:
        state.header_windows.popitem(last=False)
    return window


def _metadata_cap(state: ServerState) -> int:
    """The ruleset's cap on a shown header's `__metadata__` (the shipped one's without facts)."""
    if state.facts is None:
        return DEFAULT_METADATA_CAP
    return state.facts.ruleset.files.safetensors_metadata_max_bytes


async def handle_resolve(request: Request, hub: HubPath, state: ServerState) -> Response:
    began = time.perf_counter()
    method = request.method
    # Only a request that reaches `check` may use a remembered token (check confirms it).
    caller = await state.authenticate(request, decided=hub.path != SIDECAR_PATH)
    assert hub.revision is not None
    resolved = await state.source.resolve(hub.repo_id, hub.revision)
    if hub.path == SIDECAR_PATH and state.sidecars is not None:
        return await _sidecar(request, state, caller, resolved)
    entry = await state.source.file(resolved.repo_id, resolved.commit, hub.path)
    assert entry.sha256 is not None, "ModelSource.file always knows the sha256"
    byte_range = parse_range(request.headers.get("range"), entry.size)
    asked = request.headers.get("x-gate-destination")
    destination = normalize_country(asked, field="X-Gate-Destination") if asked else None
    # A range inside the safetensors header window sends no parameter: not a counted transfer.
    ranged = method == "GET" and byte_range is not None
    window = (
        await _header_window(state, resolved, entry)
        if ranged and state.gatekeeper.is_parameters(entry.path)
        else None
    )
    ctx = await transfer_context(
        state.gatekeeper,
        state.facts,
        caller,
        resolved,
        entry,
        file_bytes=state.file_bytes,
        destination=destination,
        client=request.client.host if request.client else None,
        method=method,
        byte_range=byte_range,
        header_window=window,
    )
    is_parameters = ctx.is_parameters
    answer = await state.decide(ctx)
    state.metrics.decisions[answer.verdict.value] += 1
    fields = {
        "decision_id": answer.decision_id,
        "verdict": answer.verdict.value,
        "basis": answer.basis,
        "recipient": caller.recipient_id,
        "repo": resolved.repo_id,
        "commit": resolved.commit,
        "path": entry.path,
        "method": method,
        "range": list(byte_range) if byte_range else None,
    }
    try:
        response = await _respond(
            request, state, resolved, entry, answer, byte_range, is_parameters
        )
    finally:
        state.metrics.observe(f"resolve_{method.lower()}", time.perf_counter() - began)
    log.info("resolve", extra={"fields": {**fields, "status": response.status_code}})
    return response


async def _respond(
    request: Request,
    state: ServerState,
    resolved: Resolved,
    entry: FileEntry,
    answer: GateAnswer,
    byte_range: tuple[int, int] | None,
    is_parameters: bool,
) -> Response:
    method = request.method
    if not answer.allowed:
        window = await _header_window(state, resolved, entry) if is_parameters else 0
        if method == "HEAD" and window:
            return _refused_head(entry, resolved, answer)
        if method == "GET" and byte_range is not None and byte_range[0] < window:
            window_range = (byte_range[0], min(byte_range[1], window))
            return _partial(state, resolved, entry, answer, window_range, verify=False)
        return dialect.refusal(answer, method, resolved.commit)

    bad = state.corrupt.get((resolved.repo_id, resolved.commit, entry.path))
    if bad is not None:
        raise DigestMismatch(f"{entry.path} failed its digest check earlier ({bad}); not served")
    headers = _file_headers(entry, resolved, answer)
    if method == "HEAD":
        # An explicit Content-Length: without it Starlette sends 0 and the client caches an
        # empty file without complaint.
        headers["Content-Length"] = str(entry.size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    on_disk = _on_disk(state, resolved, entry)
    if on_disk is not None:
        path, blobs = on_disk
        assert entry.sha256 is not None
        identity = blobs.check(path, entry.sha256)
        if identity is not None:
            return _zero_copy(state, resolved, entry, answer, byte_range, path, identity, blobs)
    return _streamed(state, resolved, entry, answer, byte_range)


def _on_disk(
    state: ServerState, resolved: Resolved, entry: FileEntry
) -> tuple[str, VerifiedBlobs] | None:
    """Where the file's bytes lie on this machine, for a source that keeps them on disk."""
    source = state.on_disk
    return None if source is None else source.blob_on_disk(resolved.repo_id, resolved.commit, entry)


def _streamed(
    state: ServerState,
    resolved: Resolved,
    entry: FileEntry,
    answer: GateAnswer,
    byte_range: tuple[int, int] | None,
) -> Response:
    """The bytes read through Python and checked against the digest on the way."""
    headers = _file_headers(entry, resolved, answer)
    if byte_range is None:
        body = verified_body(
            state.source.open(resolved.repo_id, resolved.commit, entry, 0, entry.size),
            entry,
            on_failure=_failure_recorder(state, resolved, entry, answer),
            on_bytes=state.metrics.add_bytes,
            on_verified=_verified_recorder(state, resolved, entry),
        )
        headers["Content-Length"] = str(entry.size)
        return StreamingResponse(body, 200, headers, media_type="application/octet-stream")
    # A resume (a range to the end) is checked against the whole file by hashing the part before
    # it first; past `resume_verify_limit` that would hold the first byte longer than the
    # client's 10 s wait, so a long resume is served as it is (the plugin still checks it).
    verify = byte_range[1] == entry.size and byte_range[0] <= state.resume_verify_limit
    return _partial(state, resolved, entry, answer, byte_range, verify=verify)


def _zero_copy(
    state: ServerState,
    resolved: Resolved,
    entry: FileEntry,
    answer: GateAnswer,
    byte_range: tuple[int, int] | None,
    path: str,
    identity: Identity,
    blobs: VerifiedBlobs,
) -> Response:
    """A verified blob on disk (or any range of it), sent with sendfile without re-hashing."""
    headers = _file_headers(entry, resolved, answer)
    start, stop = byte_range or (0, entry.size)
    headers["Content-Length"] = str(stop - start)
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{entry.size}"
    status = 200 if byte_range is None else 206
    if stop - start <= SMALL:
        data = read_small(path, identity, start, stop)
        if data is not None:
            state.metrics.add_zerocopy_bytes(len(data))
            return Response(data, status, headers, media_type="application/octet-stream")
        return _streamed(state, resolved, entry, answer, byte_range)
    failure = _failure_recorder(state, resolved, entry, answer)

    async def changed(detail: str) -> None:
        blobs.forget(path)
        await failure(f"stream aborted: {detail}")

    return SendfileResponse(
        path,
        identity,
        (start, stop),
        status,
        headers,
        fallback=lambda: _streamed(state, resolved, entry, answer, byte_range),
        on_bytes=state.metrics.add_zerocopy_bytes,
        on_changed=changed,
    )


def _verified_recorder(
    state: ServerState, resolved: Resolved, entry: FileEntry
) -> Callable[[], None] | None:
    """For a blob on disk: remember it as verified when a whole read of it matched its digest,
    under the identity it had before the read began (a change since then is not remembered)."""
    on_disk = _on_disk(state, resolved, entry)
    if on_disk is None or entry.sha256 is None:
        return None
    path, blobs = on_disk
    identity = path_identity(path)
    sha256 = entry.sha256
    if identity is None:
        return None

    def verified() -> None:
        blobs.add(path, sha256, identity)

    return verified


async def _sidecar(
    request: Request, state: ServerState, caller: Caller, resolved: Resolved
) -> Response:
    """The caller's snapshot bundle: the gate's own document, no parameter in it."""
    assert state.sidecars is not None
    client = request.client.host if request.client else None
    data = await state.sidecars.content(caller, resolved, client)
    headers = {
        "X-Repo-Commit": resolved.commit,
        "ETag": f'"{git_blob_oid(data)}"',
        "Content-Length": str(len(data)),
    }
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/json")
    byte_range = parse_range(request.headers.get("range"), len(data))
    if byte_range is None:
        return Response(data, 200, headers, media_type="application/json")
    start, stop = byte_range
    headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
    headers["Content-Length"] = str(stop - start)
    return Response(data[start:stop], 206, headers, media_type="application/json")


def _refused_head(entry: FileEntry, resolved: Resolved, answer: GateAnswer) -> Response:
    """HEAD of a refused safetensors file: its metadata and the refusal as a warning.

    `get_safetensors_metadata` first asks `file_exists`, a HEAD that raises on 403, before it
    reads the header the gate does serve. A HEAD carries no parameter byte, so it answers 200
    with size and digest; the GET of the weights is refused with 403 GatedRepo, which the client
    raises as GatedRepoError with the reason. No receipt rides on it: nothing was allowed.
    """
    headers = _file_headers(entry, resolved, answer)
    headers["X-HF-Warning"] = f"gate-{answer.decision_id}; {dialect.ascii_line(answer.message)}"
    headers["Content-Length"] = str(entry.size)
    return Response(status_code=200, headers=headers, media_type="application/octet-stream")


def _partial(
    state: ServerState,
    resolved: Resolved,
    entry: FileEntry,
    answer: GateAnswer,
    byte_range: tuple[int, int],
    *,
    verify: bool,
) -> Response:
    start, stop = byte_range
    source = state.source
    chunks = source.open(resolved.repo_id, resolved.commit, entry, start, stop)
    failure = _failure_recorder(state, resolved, entry, answer)
    body: AsyncIterator[bytes]
    if verify:
        prefix = source.open(resolved.repo_id, resolved.commit, entry, 0, start) if start else None
        body = verified_body(
            chunks,
            entry,
            on_failure=failure,
            prefix=prefix,
            on_bytes=state.metrics.add_bytes,
            on_verified=_verified_recorder(state, resolved, entry),
        )
    else:
        body = plain_body(chunks, on_failure=failure, on_bytes=state.metrics.add_bytes)
    headers = _file_headers(entry, resolved, answer)
    headers["Content-Range"] = f"bytes {start}-{stop - 1}/{entry.size}"
    headers["Content-Length"] = str(stop - start)
    return StreamingResponse(body, 206, headers, media_type="application/octet-stream")


def _failure_recorder(
    state: ServerState, resolved: Resolved, entry: FileEntry, answer: GateAnswer
) -> Failure:
    async def record(detail: str) -> None:
        state.metrics.aborted += 1
        if "digest mismatch" in detail:
            state.corrupt[(resolved.repo_id, resolved.commit, entry.path)] = detail
        log.error(
            "stream aborted",
            extra={
                "fields": {"decision_id": answer.decision_id, "path": entry.path, "detail": detail}
            },
        )
        try:
            await run_in_threadpool(
                state.gatekeeper.record_outcome, answer.decision_id, "aborted", detail
            )
        except GateError as exc:
            # The stream is being cut either way; the log line above keeps the fact.
            log.error("could not record outcome", extra={"fields": {"error": str(exc)}})

    return record
