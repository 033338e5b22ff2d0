"""A revision the operator removes from the local store stops being served at once.

The store remembers what it listed (a commit's files never change), but a commit whose
snapshot folder is gone is no longer in the store: taking a revision down (deleting its
snapshot, as `huggingface-cli delete-cache` does) must refuse its files on the next request,
HEAD and GET, by commit and by a ref still naming it, even when its blobs stay (another
revision shares them) and its files were served a moment before.
"""

from __future__ import annotations

import shutil

import httpx
import pytest

from gate.hub.local import repo_folder
from tests.server.conftest import Repos, ServerThread, StoreKeeper


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_a_removed_snapshot_is_not_served(
    gate: ServerThread, repos: Repos, keeper: StoreKeeper, method: str
) -> None:
    commit = repos.commits["open/small"]
    paths = [f"/open/small/resolve/{rev}/config.json" for rev in (commit, "main")]
    headers = {"Authorization": "Bearer tok-acme"}
    with httpx.Client(base_url=gate.url, headers=headers) as client:
        for path in paths:
            assert client.request(method, path).status_code == 200
        shutil.rmtree(repos.root / repo_folder("open/small") / "snapshots" / commit)
        for path in paths:
            answer = client.request(method, path)
            assert answer.status_code == 404, path
            assert answer.headers["X-Error-Code"] == "RevisionNotFound"
            if method == "GET":
                assert answer.content != repos.files["open/small"]["config.json"]
