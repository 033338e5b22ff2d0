"""Real parts for the proxy tests: HF-cache stores on disk, gates on loopback, and the real
store-backed gatekeeper over a temporary SQLite records store (`StoreKeeper`).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from safetensors.numpy import save
from sqlalchemy import create_engine

from gate.core.ruleset import Ruleset
from gate.core.values import ComputeInterval, ModelFacts
from gate.crypto.keys import Signer
from gate.crypto.snapshot_bundle import SIDECAR_PATH
from gate.hub.layout import write_snapshot
from gate.hub.local import LocalStore, repo_folder
from gate.hub.upstream import UpstreamSource
from gate.rules.loader import load_default_ruleset
from gate.server.app import create_app
from gate.server.background import BackgroundServer
from gate.service.gatekeeper import Caller, GateAnswer, TransferContext
from gate.service.records_gatekeeper import StoreGatekeeper
from gate.store import credentials, models, recipients
from gate.store.db import Store, open_store

# -- the local store --------------------------------------------------------------------------


# Kept under its old name: the plugin tests import it from here.
add_repo = write_snapshot


def safetensors_bytes(seed: int, n: int = 64) -> bytes:
    rng = np.random.default_rng(seed)
    return bytes(
        save({"w": rng.standard_normal((n, 4)).astype(np.float32), "b": np.zeros(4, np.float32)})
    )


def blob_path(root: Path, repo_id: str, data: bytes) -> Path:
    return root / repo_folder(repo_id) / "blobs" / hashlib.sha256(data).hexdigest()


# -- the gatekeeper ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A test recipient: its record in the store and the short name tests use for its token."""

    token: str
    recipient_id: str
    name: str
    headquarters: str
    destinations: tuple[str, ...]
    revoked: bool = False


ACCOUNTS = (
    Account("tok-acme", "r-acme", "Acme Labs", "US", ("US", "DE", "BR")),
    Account("tok-dragon", "r-dragon", "Dragon AI", "CN", ("CN",)),
    Account("tok-old", "r-old", "Old Co", "US", ("US",), revoked=True),
    Account("tok-proxy", "r-proxy", "Proxy Operator", "US", ("US",)),
)


class StoreKeeper(StoreGatekeeper):
    """The real store-backed gatekeeper, over a temporary SQLite records store.

    Seeded with the test recipients (real records and tokens; tests name a token by its short
    name, `tok-acme`, which `authenticate` looks up) and the operator's word on the test models
    (real overrides, `rule`). It keeps the answers it gave and the outcomes it recorded, so a
    test can see what was decided; every decision is also in the store's audit chain.
    """

    def __init__(
        self, store: Store, ruleset: Ruleset, *, signer: Signer | None = None, **kwargs: Any
    ) -> None:
        super().__init__(store, ruleset, signer=signer, **kwargs)
        self.tokens: dict[str, str] = {}
        self.decisions: list[tuple[str, TransferContext, GateAnswer]] = []
        self.outcomes: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._engine = store.engine

    def seed(self, accounts: tuple[Account, ...], facts: Mapping[str, ModelFacts]) -> None:
        for account in accounts:
            recipients.add(
                self.store,
                account.recipient_id,
                actor="tests",
                name=account.name,
                headquarters=account.headquarters,
                parent="self",
                destinations=list(account.destinations),
                default_destination=account.destinations[0],
            )
            token, _ = credentials.create_token(self.store, account.recipient_id, actor="tests")
            if account.revoked:
                credentials.revoke(self.store, token, actor="tests")
            self.tokens[account.token] = token
        for repo_id, known in facts.items():
            self.rule(repo_id, known)

    def rule(self, repo_id: str, known: ModelFacts) -> None:
        """The operator's word on a model (`gate models classify`): what `known` says."""
        compute = known.training_compute
        models.classify(
            self.store,
            repo_id,
            actor="tests",
            reason="the test's facts",
            published=known.published,
            publication_evidence=known.publication_evidence,
            compute=compute if (compute.low, compute.high) != (None, None) else None,
        )

    def authenticate(self, token: str | None) -> Caller:
        return super().authenticate(self.tokens.get(token, token) if token else token)

    def remembered(self, token: str | None) -> Caller | None:
        # The caller carries the real token (not the short name): the decision re-checks it.
        return super().remembered(self.tokens.get(token, token) if token else token)

    def check(self, ctx: TransferContext) -> GateAnswer:
        answer = super().check(ctx)
        with self._lock:
            self.decisions.append((answer.decision_id, ctx, answer))
        return answer

    async def check_in_memory(self, ctx: TransferContext) -> GateAnswer | None:
        answer = await super().check_in_memory(ctx)
        if answer is not None:
            with self._lock:
                self.decisions.append((answer.decision_id, ctx, answer))
        return answer

    def record_outcome(self, decision_id: str, outcome: str, detail: str) -> None:
        super().record_outcome(decision_id, outcome, detail)
        with self._lock:
            self.outcomes.append((decision_id, outcome, detail))

    @property
    def store_down(self) -> bool:
        return self.store.engine is not self._engine

    @store_down.setter
    def store_down(self, down: bool) -> None:
        """Point the store at a database file that cannot be opened (a real SQLite failure)."""
        self.store.engine.dispose()
        gone = Path(str(self._engine.url.database)).parent / "gone" / "gate.db"
        self.store.engine = create_engine(f"sqlite:///{gone}") if down else self._engine


def store_keeper(
    folder: Path,
    facts: Mapping[str, ModelFacts],
    *,
    keeper: type[StoreKeeper] = StoreKeeper,
    **kwargs: Any,
) -> StoreKeeper:
    """A seeded `StoreKeeper` over a new SQLite store in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    made = keeper(open_store(f"sqlite:///{folder / 'gate.db'}"), load_default_ruleset(), **kwargs)
    made.seed(ACCOUNTS, facts)
    return made


def default_facts() -> dict[str, ModelFacts]:
    return {
        "open/small": ModelFacts(
            repo_id="open/small", published=True, publication_evidence="apache-2.0"
        ),
        "lab/frontier": ModelFacts(
            repo_id="lab/frontier",
            published=False,
            training_compute=ComputeInterval.exactly(3e26),
        ),
        # lab/mystery: nothing known -> hold
    }


# -- running servers --------------------------------------------------------------------------


ServerThread = BackgroundServer


@dataclass
class Repos:
    root: Path
    files: dict[str, dict[str, bytes]]
    commits: dict[str, str]


def build_store(root: Path) -> Repos:
    weights = safetensors_bytes(1)
    files: dict[str, dict[str, bytes]] = {
        "open/small": {
            "config.json": b'{"model_type": "tiny"}',
            "README.md": b"# small open model\n",
            "model.safetensors": safetensors_bytes(2),
        },
        "lab/frontier": {
            "config.json": b'{"model_type": "frontier"}',
            "tokenizer.json": b'{"vocab": {}}',
            "model.safetensors.index.json": b'{"metadata": {}, "weight_map": {"w": '
            b'"model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}',
            "model-00001-of-00002.safetensors": safetensors_bytes(3),
            "model-00002-of-00002.safetensors": safetensors_bytes(4),
            "sub/dir/notes.txt": b"notes\n",
        },
        "lab/mystery": {
            "config.json": b'{"model_type": "mystery"}',
            "model.safetensors": weights,
            "big.bin": bytes(range(256)) * 4096 * 3,  # 3 MiB: several chunks
        },
    }
    commits = {
        repo: add_repo(root, repo, content, refs=("main", "refs/pr/1"))
        for repo, content in files.items()
    }
    return Repos(root, files, commits)


@pytest.fixture()
def repos(tmp_path: Path) -> Repos:
    return build_store(tmp_path / "store")


@pytest.fixture()
def keeper(tmp_path: Path) -> Iterator[StoreKeeper]:
    made = store_keeper(tmp_path / "records", default_facts())
    yield made
    made.store.close()


@pytest.fixture()
def gate(repos: Repos, keeper: StoreKeeper) -> Iterator[ServerThread]:
    with ServerThread(create_app(LocalStore(repos.root), keeper, tree_page_size=3)) as server:
        yield server


@pytest.fixture()
def shadow_gate(repos: Repos, keeper: StoreKeeper) -> Iterator[ServerThread]:
    keeper.mode = "shadow"
    with ServerThread(create_app(LocalStore(repos.root), keeper)) as server:
        yield server


@pytest.fixture()
def chained(
    repos: Repos, keeper: StoreKeeper, tmp_path: Path
) -> Iterator[tuple[ServerThread, StoreKeeper]]:
    """A gate in upstream mode in front of a second gate in store mode.

    The upstream gate knows the proxy operator's token and holds every model as published (its
    operator's own policy); the front gate applies the test policy to the real recipients.
    """
    upstream_keeper = store_keeper(
        tmp_path / "upstream-records",
        {r: ModelFacts(repo_id=r, published=True) for r in repos.files},
    )
    with ServerThread(create_app(LocalStore(repos.root), upstream_keeper)) as upstream:
        source = UpstreamSource(upstream.url, upstream_keeper.tokens["tok-proxy"])
        with ServerThread(create_app(source, keeper)) as front:
            yield front, upstream_keeper


def model_signing_verify(folder: Path, public_pem: Path) -> subprocess.CompletedProcess[str]:
    """The stock OpenSSF tool, as a third party would run it on a downloaded snapshot."""
    tool = Path(sys.executable).with_name("model_signing")
    return subprocess.run(
        [
            str(tool),
            "verify",
            "key",
            "--signature",
            str(folder / SIDECAR_PATH),
            "--public_key",
            str(public_pem),
            "--allow_symlinks",
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_until_ready(process: subprocess.Popen[str], port: int, seconds: float = 60) -> None:
    """Until `gate serve` on `port` answers /readyz 200; fails with its stderr if it exits."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "gate serve did not start"
        time.sleep(0.2)
