"""The gate `gate serve` builds (records store, real decisions, signing keys) over tiny REAL models.

Two recipients: Nordic AI AB (Sweden, no parent, destination Sweden) and Shenzhen Vision Co
(China). Both models are designated by the operator, so they are controlled whatever their
compute: Nordic gets them under License Exception AIA, Shenzhen is denied (embargoed group).
Model building needs torch and transformers; the module-scoped world is built once per file.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gate.crypto.keys import KeyRing
from gate.hub.layout import write_snapshot
from gate.server.background import BackgroundServer
from gate.server.serve import build_gate
from gate.server.settings import ServeSettings
from gate.store import credentials, models, recipients

LLAMA = "lab/tiny-llama"
ENCODER = "lab/tiny-encoder"
DIFFUSION = "lab/tiny-ddpm"
PASSPHRASE = "clients-test"


@dataclass
class World:
    url: str
    root: Path
    files: dict[str, dict[str, bytes]]
    commits: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    def env(self, who: str, home: Path) -> dict[str, str]:
        """A client process's environment: this gate, this recipient, a fresh HF cache."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
        env.update(
            HF_ENDPOINT=self.url,
            HF_TOKEN=self.tokens[who],
            HF_HOME=str(home),
            HF_HUB_OFFLINE="0",
            HF_HUB_DISABLE_TELEMETRY="1",
            TRANSFORMERS_OFFLINE="0",
            PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        )
        return env


def run_client(world: World, who: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh process (HF_ENDPOINT is read at import) running `args` as this recipient: a
    Python script, or a command installed beside this Python (`hf`)."""
    beside = Path(sys.executable).parent / args[0]
    command = [str(beside), *args[1:]] if "/" not in args[0] else [sys.executable, *args]
    return subprocess.run(
        command,
        env=world.env(who, home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from tests.clients.tiny import diffusion, encoder, llama

    root = tmp_path_factory.mktemp("clients")
    files = {LLAMA: llama(root / "src-llama"), ENCODER: encoder(root / "src-encoder")}
    if importlib.util.find_spec("diffusers") is not None:  # not a project dependency
        files[DIFFUSION] = diffusion(root / "src-ddpm")
    store_dir = root / "hub"
    commits = {repo: write_snapshot(store_dir, repo, content) for repo, content in files.items()}
    KeyRing(root / "keys").init(PASSPHRASE)
    settings = ServeSettings(
        store=store_dir,
        data_dir=root,
        key_dir=root / "keys",
        key_passphrase=PASSPHRASE,
        port=0,
        database_url=f"sqlite:///{root}/gate.db",
    )
    gate = build_gate(settings)
    try:
        tokens = {}
        for key, name, country in (
            ("allowed", "Nordic AI AB", "SE"),
            ("refused", "Shenzhen Vision Co", "CN"),
        ):
            recipients.add(
                gate.store,
                f"r-{key}",
                actor="test",
                name=name,
                headquarters=country,
                parent="self",
                destinations=[country],
                default_destination=country,
            )
            tokens[key], _ = credentials.create_token(gate.store, f"r-{key}", actor="test")
        for repo in files:
            models.designate(gate.store, repo, reason="test: controlled", actor="test")
        with BackgroundServer(gate.app) as server:
            yield World(server.url, root, files, commits, tokens)
    finally:
        gate.close()
