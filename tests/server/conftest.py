"""Real parts for the proxy tests: HF-cache stores on disk, gates on loopback, a memory gatekeeper.

`MemoryGatekeeper` is the stand-in for the store-backed gatekeeper: tokens, recipients and model
facts live in dicts, but every answer comes from the REAL decision procedure
(`gate.core.decide.decide`) under the default ruleset, and every decision is kept in a list.
"""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save

from gate.core.decide import decide
from gate.core.ruleset import Ruleset
from gate.core.values import (
    SELF,
    ComputeInterval,
    Decision,
    Inquiry,
    ModelFacts,
    Recipient,
    TransferRequest,
    Verdict,
)
from gate.crypto.snapshot_bundle import SIDECAR_PATH
from gate.errors import AuthError, NotFoundError, StoreError
from gate.hub.layout import write_snapshot
from gate.hub.local import LocalStore, repo_folder
from gate.hub.upstream import UpstreamSource
from gate.rules.loader import load_default_ruleset
from gate.server.app import create_app
from gate.server.background import BackgroundServer
from gate.server.gatekeeper import Caller, GateAnswer, TransferContext, answer_from_decision

DAY = date(2026, 3, 2)

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


@dataclass
class Account:
    recipient: Recipient
    default_destination: str | None
    destinations: tuple[str, ...]
    revoked: bool = False


@dataclass
class MemoryGatekeeper:
    """A `Gatekeeper` over dicts, deciding with the real `decide`."""

    ruleset: Ruleset
    accounts: dict[str, Account]
    facts: dict[str, ModelFacts]
    day: date = DAY
    decisions: list[tuple[str, TransferContext, Decision]] = field(default_factory=list)
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)
    inquiries: dict[str, dict[str, Any]] = field(default_factory=dict)
    store_down: bool = False
    snapshots: dict[tuple[str, str, str, int], bytes] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(self, token: str | None) -> Caller:
        if self.store_down:
            raise StoreError("database unreachable")
        if token is None:
            raise AuthError("no credential: send Authorization: Bearer <recipient token>")
        account = self.accounts.get(token)
        if account is None:
            raise AuthError("unknown credential")
        if account.revoked:
            raise AuthError("credential revoked")
        recipient = account.recipient
        assert recipient.id is not None
        return Caller(
            recipient.id, recipient.name, account.default_destination, account.destinations
        )

    def is_parameters(self, path: str) -> bool:
        return self.ruleset.is_parameters(path)

    def _inquiry_for(self, caller: Caller, repo_id: str) -> str:
        for inquiry_id, inquiry in self.inquiries.items():
            if inquiry["recipient"] == caller.recipient_id and inquiry["repo"] == repo_id:
                return inquiry_id
        inquiry_id = f"inq-{len(self.inquiries) + 1}"
        self.inquiries[inquiry_id] = {
            "recipient": caller.recipient_id,
            "repo": repo_id,
            "status": "open",
            "answers": {},
        }
        return inquiry_id

    def check(self, ctx: TransferContext) -> GateAnswer:
        if self.store_down:
            raise StoreError("database unreachable")
        account = next(
            a for a in self.accounts.values() if a.recipient.id == ctx.caller.recipient_id
        )
        if ctx.destination is None:
            destination = account.default_destination
        elif ctx.destination in account.destinations:
            destination = ctx.destination
        else:
            destination = None  # an unregistered destination is not a fact the gate may use
        facts = self.facts.get(ctx.repo_id, ModelFacts(repo_id=ctx.repo_id))
        facts = replace(facts, revision=ctx.revision, commit=ctx.commit)
        inquiry = None
        for inquiry_id, record in self.inquiries.items():
            if record["recipient"] == ctx.caller.recipient_id and record["repo"] == ctx.repo_id:
                inquiry = Inquiry(status=record["status"], id=inquiry_id)
        request = TransferRequest(
            date=self.day,
            model=facts,
            recipient=account.recipient,
            destination=destination,
            file=ctx.path,
            inquiry=inquiry,
        )
        decision = decide(request, self.ruleset)
        with self._lock:
            decision_id = f"d-{next(self._ids):05d}"
            self.decisions.append((decision_id, ctx, decision))
            inquiry_id = (
                self._inquiry_for(ctx.caller, ctx.repo_id)
                if decision.verdict is Verdict.HOLD
                else None
            )
        return answer_from_decision(decision_id, decision, ctx, inquiry_id=inquiry_id)

    def record_outcome(self, decision_id: str, outcome: str, detail: str) -> None:
        if self.store_down:
            raise StoreError("database unreachable")
        with self._lock:
            self.outcomes.append((decision_id, outcome, detail))

    def answer_inquiry(
        self, caller: Caller, inquiry_id: str, answers: Mapping[str, Any]
    ) -> dict[str, Any]:
        record = self.inquiries.get(inquiry_id)
        if record is None or record["recipient"] != caller.recipient_id:
            raise NotFoundError(f"inquiry {inquiry_id} not found")
        record["answers"].update(answers)
        return {"id": inquiry_id, "status": record["status"], "answers": record["answers"]}

    def inquiry(self, caller: Caller, inquiry_id: str) -> dict[str, Any]:
        record = self.inquiries.get(inquiry_id)
        if record is None or record["recipient"] != caller.recipient_id:
            raise NotFoundError(f"inquiry {inquiry_id} not found")
        questions = [{"id": "destination", "answer_shape": {"example": "DE"}}]
        return {"id": inquiry_id, "status": record["status"], "questions": questions}

    def receipt(self, caller: Caller, decision_id: str) -> dict[str, Any]:
        raise NotFoundError(f"no receipt for decision {decision_id!r}")

    def stored_snapshot(
        self, caller: Caller, repo_id: str, commit: str, bucket: int
    ) -> bytes | None:
        for candidate in (bucket, bucket - 1):
            found = self.snapshots.get((caller.recipient_id, repo_id, commit, candidate))
            if found is not None:
                return found
        return None

    def keep_snapshot(
        self, caller: Caller, repo_id: str, commit: str, bucket: int, data: bytes
    ) -> bytes:
        return self.snapshots.setdefault((caller.recipient_id, repo_id, commit, bucket), data)

    def ready(self) -> None:
        if self.store_down:
            raise StoreError("database unreachable")


def recipient(rid: str, name: str, hq: str | None, parent: Any = SELF) -> Recipient:
    return Recipient(name=name, headquarters=hq, ultimate_parent=parent, id=rid)


def default_accounts() -> dict[str, Account]:
    return {
        "tok-acme": Account(recipient("r-acme", "Acme Labs", "US"), "US", ("US", "DE", "BR")),
        "tok-dragon": Account(recipient("r-dragon", "Dragon AI", "CN"), "CN", ("CN",)),
        "tok-old": Account(recipient("r-old", "Old Co", "US"), "US", ("US",), revoked=True),
        "tok-proxy": Account(recipient("r-proxy", "Proxy Operator", "US"), "US", ("US",)),
    }


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
def keeper() -> MemoryGatekeeper:
    return MemoryGatekeeper(load_default_ruleset(), default_accounts(), default_facts())


@pytest.fixture()
def gate(repos: Repos, keeper: MemoryGatekeeper) -> Iterator[ServerThread]:
    with ServerThread(create_app(LocalStore(repos.root), keeper, tree_page_size=3)) as server:
        yield server


@pytest.fixture()
def shadow_gate(repos: Repos, keeper: MemoryGatekeeper) -> Iterator[ServerThread]:
    with ServerThread(create_app(LocalStore(repos.root), keeper, mode="shadow")) as server:
        yield server


@pytest.fixture()
def chained(
    repos: Repos, keeper: MemoryGatekeeper
) -> Iterator[tuple[ServerThread, MemoryGatekeeper]]:
    """A gate in upstream mode in front of a second gate in store mode.

    The upstream gate knows the proxy operator's token and holds every model as published (its
    operator's own policy); the front gate applies the test policy to the real recipients.
    """
    upstream_keeper = MemoryGatekeeper(
        load_default_ruleset(),
        default_accounts(),
        {r: ModelFacts(repo_id=r, published=True) for r in repos.files},
    )
    with ServerThread(create_app(LocalStore(repos.root), upstream_keeper)) as upstream:
        source = UpstreamSource(upstream.url, "tok-proxy")
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
