"""The hub's metadata API as the client uses it: model info, tree, paths-info, whoami.

Metadata never carries a parameter byte, so it is not decided per request; it does require a
valid credential, like every hub route. Nothing here mentions Xet (`xetHash` in tree entries
would send the client to Xet storage, around the gate).
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gate.errors import InputError
from gate.hub.source import FileEntry, Resolved
from gate.server import dialect
from gate.server.paths import HubPath
from gate.server.state import ServerState
from gate.service.gatekeeper import Caller


def _sibling(entry: FileEntry) -> dict[str, Any]:
    sibling: dict[str, Any] = {"rfilename": entry.path, "size": entry.size, "blobId": entry.git_oid}
    if entry.lfs and entry.sha256 is not None:
        sibling["lfs"] = {
            "size": entry.size,
            "sha256": entry.sha256,
            "pointerSize": len(entry.lfs_pointer()),
        }
    return sibling


def _folder(path: str, files: list[FileEntry]) -> dict[str, Any]:
    # Not git's tree id (the gate has no trees); a stable id of the folder's listing instead.
    digest = hashlib.sha1(usedforsecurity=False)
    for entry in files:
        if entry.path.startswith(path + "/"):
            digest.update(f"{entry.path}\0{entry.git_oid}\n".encode())
    return {"type": "directory", "path": path, "oid": digest.hexdigest(), "size": 0}


async def _listing(
    request: Request, state: ServerState, caller: Caller, resolved: Resolved
) -> list[FileEntry]:
    """The commit's files as this caller sees them: with its snapshot bundle, when signing."""
    files = await state.source.list_files(resolved.repo_id, resolved.commit)
    if state.sidecars is None:
        return files
    client = request.client.host if request.client else None
    sidecar = await state.sidecars.entry(caller, resolved, client)
    return sorted([*(f for f in files if f.path != sidecar.path), sidecar], key=lambda f: f.path)


async def model_info(request: Request, hub: HubPath, state: ServerState) -> Response:
    """`/api/models/{repo}` and `/api/models/{repo}/revision/{rev}`: needs `id` and `sha`."""
    caller = await state.authenticate(request)
    resolved = await state.source.resolve(hub.repo_id, hub.revision or "main")
    files = await _listing(request, state, caller, resolved)
    author = resolved.repo_id.split("/")[0] if "/" in resolved.repo_id else None
    body = {
        "_id": resolved.repo_id,
        "id": resolved.repo_id,
        "modelId": resolved.repo_id,
        "author": author,
        "sha": resolved.commit,
        "private": False,
        "gated": False,
        "disabled": False,
        "tags": [],
        "siblings": [_sibling(e) for e in files],
    }
    return JSONResponse(body, headers={"X-Repo-Commit": resolved.commit})


def _tree_entries(files: list[FileEntry], base: str, recursive: bool) -> list[dict[str, Any]]:
    prefix = base + "/" if base else ""
    below = [e for e in files if e.path.startswith(prefix)]
    if recursive:
        folders = {
            "/".join(e.path.split("/")[: i + 1])
            for e in below
            for i in range(prefix.count("/"), e.path.count("/"))
        }
        items = [_folder(f, files) for f in folders] + [e.tree_entry() for e in below]
    else:
        folders = {
            prefix + e.path[len(prefix) :].split("/")[0]
            for e in below
            if "/" in e.path[len(prefix) :]
        }
        direct = [e for e in below if "/" not in e.path[len(prefix) :]]
        items = [_folder(f, files) for f in folders] + [e.tree_entry() for e in direct]
    return sorted(items, key=lambda item: str(item["path"]))


async def tree(request: Request, hub: HubPath, state: ServerState) -> Response:
    """`/api/models/{repo}/tree/{rev}[/{path}]`, paginated with a `Link: rel="next"` cursor."""
    caller = await state.authenticate(request)
    resolved = await state.source.resolve(hub.repo_id, hub.revision or "main")
    files = await _listing(request, state, caller, resolved)
    recursive = request.query_params.get("recursive", "false").lower() in ("true", "1")
    items = _tree_entries(files, hub.path, recursive)
    if hub.path and not items:
        raise InputError("path", f"no folder {hub.path!r} in {resolved.repo_id}@{resolved.commit}")
    try:
        start = int(request.query_params.get("cursor", "0"))
    except ValueError as exc:
        raise InputError("cursor", "expected a number") from exc
    page = items[start : start + state.tree_page_size]
    headers = {"X-Repo-Commit": resolved.commit}
    if start + state.tree_page_size < len(items):
        next_url = request.url.include_query_params(cursor=str(start + state.tree_page_size))
        headers["Link"] = f'<{next_url}>; rel="next"'
    return JSONResponse(page, headers=headers)


async def paths_info(request: Request, hub: HubPath, state: ServerState) -> Response:
    """`POST /api/models/{repo}/paths-info/{rev}` with form fields `paths` (repeated)."""
    caller = await state.authenticate(request)
    resolved = await state.source.resolve(hub.repo_id, hub.revision or "main")
    files = await _listing(request, state, caller, resolved)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    by_path = {e.path: e for e in files}
    out: list[dict[str, Any]] = []
    for path in form.get("paths", []):
        path = path.strip("/")
        if path in by_path:
            out.append(by_path[path].tree_entry())
        elif path and any(p.startswith(path + "/") for p in by_path):
            out.append(_folder(path, files))
    return JSONResponse(out, headers={"X-Repo-Commit": resolved.commit})


async def whoami(request: Request, state: ServerState) -> Response:
    """`/api/whoami-v2`: the calling recipient, in the shape `HfApi.whoami` reads."""
    caller = await state.authenticate(request)
    return JSONResponse(
        {
            "type": "user",
            "id": caller.recipient_id,
            "name": caller.name,
            "fullname": caller.name,
            "orgs": [],
            "auth": {
                "type": "access_token",
                "accessToken": {"displayName": "gate", "role": "read"},
            },
            "gate": {
                "recipient_id": caller.recipient_id,
                "default_destination": caller.default_destination,
                "destinations": list(caller.destinations),
            },
        }
    )


async def dispatch_api(request: Request, hub: HubPath, state: ServerState) -> Response:
    method = request.method
    if hub.kind == "xet-read-token":
        return dialect.xet_refused(method)
    if hub.kind in ("info", "revision") and method in ("GET", "HEAD"):
        return await model_info(request, hub, state)
    if hub.kind == "tree" and method == "GET":
        return await tree(request, hub, state)
    if hub.kind == "paths-info" and method == "POST":
        return await paths_info(request, hub, state)
    return dialect.error_response(InputError("path", "unknown API route"), method)
