"""Missing things answer as the Hub does, in store mode and through an upstream alike.

A path a commit lacks is EntryNotFound (tree, paths-info, resolve), a missing revision is
RevisionNotFound, and only a missing repository is RepoNotFound: clients act on the difference
(transformers lists `additional_chat_templates` on every tokenizer load and tolerates only
EntryNotFound; HfFileSystem tells "no such file" from "no such repository" by it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from gate.core.values import ModelFacts
from gate.hub.local import LocalStore
from gate.hub.upstream import UpstreamSource
from gate.server.app import create_app
from gate.server.background import BackgroundServer
from tests.server.conftest import Repos, build_store, store_keeper


@pytest.fixture(scope="module", params=["store", "upstream"])
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HfApi, Repos]]:
    root = tmp_path_factory.mktemp("answers")
    repos = build_store(root / "hub")
    published = {r: ModelFacts(repo_id=r, published=True) for r in repos.files}
    keeper = store_keeper(root / "records", published)
    try:
        with BackgroundServer(create_app(LocalStore(repos.root), keeper)) as store_gate:
            if request.param == "store":
                yield HfApi(endpoint=store_gate.url, token="tok-acme"), repos
                return
            front_keeper = store_keeper(root / "front-records", published)
            try:
                source = UpstreamSource(store_gate.url, keeper.tokens["tok-proxy"])
                with BackgroundServer(create_app(source, front_keeper)) as front:
                    yield HfApi(endpoint=front.url, token="tok-acme"), repos
            finally:
                front_keeper.store.close()
    finally:
        keeper.store.close()


def test_a_missing_folder_or_file_is_entry_not_found(hub: tuple[HfApi, Repos]) -> None:
    api, _ = hub
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree("lab/frontier", path_in_repo="additional_chat_templates"))
    with pytest.raises(EntryNotFoundError):  # a file is not a folder to list
        list(api.list_repo_tree("lab/frontier", path_in_repo="config.json"))
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("lab/frontier", "nope.json", endpoint=api.endpoint, token="tok-acme")
    assert api.get_paths_info("lab/frontier", ["nope.json"]) == []
    listed = list(api.list_repo_tree("lab/frontier", path_in_repo="sub/dir"))
    assert [e.path for e in listed] == ["sub/dir/notes.txt"]


def test_a_missing_revision_is_revision_not_found(hub: tuple[HfApi, Repos]) -> None:
    api, _ = hub
    with pytest.raises(RevisionNotFoundError):
        api.model_info("lab/frontier", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        list(api.list_repo_tree("lab/frontier", revision="no-such-branch"))
    with pytest.raises(RevisionNotFoundError):
        api.get_paths_info("lab/frontier", ["config.json"], revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(
            "lab/frontier",
            "config.json",
            revision="no-such-branch",
            endpoint=api.endpoint,
            token="tok-acme",
        )
    assert not api.revision_exists("lab/frontier", "no-such-branch")
    assert api.revision_exists("lab/frontier", "refs/pr/1")


def test_only_a_missing_repository_is_repo_not_found(hub: tuple[HfApi, Repos]) -> None:
    api, _ = hub
    with pytest.raises(RepositoryNotFoundError) as caught:
        api.model_info("lab/no-such-model")
    assert not isinstance(caught.value, RevisionNotFoundError | EntryNotFoundError)
    with pytest.raises(RepositoryNotFoundError):
        api.list_repo_refs("lab/no-such-model")
    assert not api.repo_exists("lab/no-such-model") and api.repo_exists("lab/frontier")


def test_refs_and_file_metadata(hub: tuple[HfApi, Repos]) -> None:
    api, repos = hub
    commit = repos.commits["lab/frontier"]
    refs = api.list_repo_refs("lab/frontier", include_pull_requests=True)
    assert [(b.name, b.ref, b.target_commit) for b in refs.branches] == [
        ("main", "refs/heads/main", commit)
    ]
    assert [(p.ref, p.target_commit) for p in refs.pull_requests or []] == [("refs/pr/1", commit)]
    assert api.list_repo_refs("lab/frontier").pull_requests is None
    info = api.model_info("lab/frontier", files_metadata=True)
    by_name = {s.rfilename: s for s in info.siblings or []}
    for path, data in repos.files["lab/frontier"].items():
        assert by_name[path].size == len(data), path
        assert by_name[path].blob_id
    assert by_name["model-00001-of-00002.safetensors"].lfs is not None


def test_a_route_the_gate_does_not_serve_is_not_a_missing_repository(
    hub: tuple[HfApi, Repos],
) -> None:
    api, _ = hub
    with pytest.raises(HfHubHTTPError) as caught:
        api.list_repo_commits("lab/frontier")
    assert not isinstance(caught.value, RepositoryNotFoundError)
    assert caught.value.response is not None and caught.value.response.status_code == 404
    assert "does not serve that API route" in str(caught.value)
