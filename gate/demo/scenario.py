"""The demo's world: a few tiny real models, recipients across the country groups, keys.

Everything is made here, on this machine: safetensors files written with numpy, model cards,
compute declarations signed with a declarer key the gate is told to trust, the gate's own
signing key, and recipients with tokens in the records store. Nothing is downloaded.

| model | what it shows |
|---|---|
| open-lab/open-tiny | published (apache-2.0, public, ungated): flows to anyone |
| acme/closed-small | closed, a signed declaration of 2.4e24 operations: below the threshold |
| acme/frontier-x | closed, a signed declaration of 3.2e26 operations: controlled |
| acme/legacy-npz | closed, weights in .npz with no header to count: compute undetermined |
"""

from __future__ import annotations

import io
import json
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from safetensors.numpy import save

from gate.compute.declaration import parse_declaration, sign_declaration
from gate.compute.pipeline import DECLARATION_FILE
from gate.core.canonical import sha256_hex
from gate.crypto.keys import KeyRing
from gate.demo.parties import refuse_another_list, seed_screening
from gate.hub.layout import write_snapshot
from gate.server.settings import ServeSettings
from gate.store import credentials, models, recipients
from gate.store.db import Store

DEMO_PASSPHRASE = "weight-gate-demo"  # the demo's throwaway key only, made fresh each run


def _tensors(seed: int, rows: int, names: tuple[str, ...] = ("embed", "lm_head", "norm")) -> bytes:
    rng = np.random.default_rng(seed)
    shapes = {"embed": (rows, 16), "lm_head": (16, rows), "norm": (16,)}
    return bytes(
        save({f"{n}.weight": rng.standard_normal(shapes[n]).astype(np.float32) for n in names})
    )


def _card(license_id: str, *, gated: bool, title: str) -> bytes:
    lines = ["---", f"license: {license_id}"]
    if gated:
        lines += ["gated: manual", 'extra_gated_prompt: "Access is granted case by case"']
    lines += ["---", f"# {title}", "", "A tiny model made by `gate demo`.", ""]
    return "\n".join(lines).encode()


CONFIG = json.dumps(
    {"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 1, "vocab_size": 64}
).encode()


@dataclass(frozen=True)
class DemoModel:
    repo_id: str
    published: bool
    training_compute: str
    files: dict[str, bytes]
    declared_operations: float | None = None


@dataclass(frozen=True)
class DemoRecipient:
    key: str
    name: str
    headquarters: str
    parent: tuple[str, str] | str
    destination: str
    attestation: bool = False
    trained_for: tuple[str, ...] = ()


RECIPIENTS = (
    DemoRecipient("nordic", "Nordic AI AB", "SE", "self", "SE"),
    DemoRecipient(
        "example", "Example GmbH", "DE", ("Example Holdings Inc", "US"), "BR", attestation=True
    ),
    DemoRecipient(
        "lumen",
        "Lumen AI US Inc",
        "US",
        ("Lumen AI Holdings Ltd", "IN"),
        "US",
        trained_for=("acme/frontier-x",),
    ),
    DemoRecipient("jakarta", "Jakarta Data PT", "ID", "self", "ID"),
    DemoRecipient("shenzhen", "Shenzhen Vision Co", "CN", "self", "CN"),
    # -- beyond 4E091 (the ear-embargoes ruleset, screening: gate/demo/parties.py) --
    # Iran is comprehensively embargoed: even a closed model below the threshold is denied.
    DemoRecipient("tehran", "Tehran Vision Co", "IR", "self", "IR"),
    # On the demo's screening list; the demo officer confirms the hit.
    DemoRecipient("orion", "Orion Photonics LLC", "AE", "self", "AE"),
    # Every destination in the United States, parent in the US: a domestic transfer.
    DemoRecipient("hudson", "Hudson Robotics Inc", "US", ("Hudson Holdings Inc", "US"), "US"),
)


def _models(declarer: ec.EllipticCurvePrivateKey) -> list[DemoModel]:
    def declared(repo_id: str, weights: dict[str, bytes], breakdown: dict[str, float]) -> bytes:
        total = sum(breakdown.values())
        declaration = parse_declaration(
            {
                "model": {
                    "repo": repo_id,
                    "weight_digests": {p: sha256_hex(b) for p, b in weights.items()},
                },
                "total_operations": total,
                "breakdown": breakdown,
                "hardware": {"chip": "H100 SXM", "count": 4096, "precision": "bf16"},
                "declarer": {"name": "Demo Researcher", "organization": "Acme"},
                "date": "2025-09-01",
            }
        )
        return json.dumps(sign_declaration(declaration, declarer), indent=2).encode()

    small = {"model.safetensors": _tensors(2, 64)}
    frontier = {
        "model-00001-of-00002.safetensors": _tensors(3, 96, ("embed", "norm")),
        "model-00002-of-00002.safetensors": _tensors(4, 96, ("lm_head",)),
    }
    index = {
        "metadata": {},
        "weight_map": {
            "embed.weight": "model-00001-of-00002.safetensors",
            "norm.weight": "model-00001-of-00002.safetensors",
            "lm_head.weight": "model-00002-of-00002.safetensors",
        },
    }
    return [
        DemoModel(
            "open-lab/open-tiny",
            True,
            "counted from headers",
            {
                "README.md": _card("apache-2.0", gated=False, title="open-tiny"),
                "config.json": CONFIG,
                "model.safetensors": _tensors(1, 64),
            },
        ),
        DemoModel(
            "acme/closed-small",
            False,
            "declared 2.4e24",
            {
                "README.md": _card("other", gated=True, title="closed-small"),
                "config.json": CONFIG,
                **small,
                DECLARATION_FILE: declared(
                    "acme/closed-small", small, {"pre_training": 2.2e24, "fine_tuning": 2e23}
                ),
            },
            2.4e24,
        ),
        DemoModel(
            "acme/frontier-x",
            False,
            "declared 3.2e26",
            {
                "README.md": _card("other", gated=True, title="frontier-x"),
                "config.json": CONFIG,
                "tokenizer.json": b'{"version": "1.0", "model": {"vocab": {}}}',
                "model.safetensors.index.json": json.dumps(index).encode(),
                **frontier,
                DECLARATION_FILE: declared(
                    "acme/frontier-x",
                    frontier,
                    {"pre_training": 2.9e26, "rl_post_training": 3e25},
                ),
            },
            3.2e26,
        ),
        DemoModel(
            "acme/legacy-npz",
            False,
            "undetermined (no header to count, no declaration)",
            {
                "README.md": _card("other", gated=True, title="legacy-npz"),
                "weights.npz": _npz_bytes(5),
            },
        ),
    ]


def _npz_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    np.savez(buffer, w=rng.standard_normal((32, 16)).astype(np.float32))
    return buffer.getvalue()


@dataclass
class DemoWorld:
    """What `build_world` made: where things are and who may call."""

    workdir: Path
    store_dir: Path
    settings: ServeSettings
    models: list[DemoModel]
    tokens: dict[str, str] = field(default_factory=dict)
    recipient_ids: dict[str, str] = field(default_factory=dict)

    def recipients_json(self) -> list[dict[str, Any]]:
        out = []
        for r in RECIPIENTS:
            parent = (
                r.parent
                if isinstance(r.parent, str)
                else {"name": r.parent[0], "headquarters": r.parent[1]}
            )
            out.append(
                {
                    "id": self.recipient_ids[r.key],
                    "name": r.name,
                    "token": self.tokens[r.key],
                    "headquarters": r.headquarters,
                    "ultimate_parent": parent,
                    "destination": r.destination,
                }
            )
        return out

    def models_json(self) -> list[dict[str, Any]]:
        return [
            {"repo_id": m.repo_id, "published": m.published, "training_compute": m.training_compute}
            for m in self.models
        ]


def build_world(workdir: Path, database_url: str | None = None) -> DemoWorld:
    """Make the demo's models, keys and settings under `workdir` (records: `seed_records`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    KeyRing(workdir / "keys").init(DEMO_PASSPHRASE)
    declarer = ec.generate_private_key(ec.SECP256R1())
    declarer_pem = workdir / "declarer.pub.pem"
    declarer_pem.write_bytes(
        declarer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    store_dir = workdir / "hub"
    demo_models = _models(declarer)
    for model in demo_models:
        write_snapshot(store_dir, model.repo_id, model.files)
    overrides: dict[str, Any] = {
        "store": store_dir,
        "data_dir": workdir,
        "key_dir": workdir / "keys",
        "key_passphrase": DEMO_PASSPHRASE,
        "trusted_declarer_keys": [declarer_pem],
        "port": 0,
    }
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = ServeSettings(**overrides)
    return DemoWorld(workdir, store_dir, settings, demo_models)


def seed_records(world: DemoWorld, store: Store) -> None:
    """Add the demo recipients (ids unique per run, so a shared database can host many runs),
    their tokens, which models the operator trained for whom, and their screening."""
    refuse_another_list(store, date.today())  # before adding anything to such records
    run = secrets.token_hex(3)
    until = date.today() + timedelta(days=365)
    for r in RECIPIENTS:
        rid = f"demo-{run}-{r.key}"
        parent: Any = r.parent if isinstance(r.parent, str) else (r.parent[0], r.parent[1])
        recipients.add(
            store,
            rid,
            actor="gate demo",
            name=r.name,
            headquarters=r.headquarters,
            parent=parent,
            destinations=[r.destination],
            default_destination=r.destination,
            attestation=(until, None, "demo attestation") if r.attestation else None,
        )
        token, _ = credentials.create_token(store, rid, actor="gate demo", label="demo")
        world.tokens[r.key] = token
        world.recipient_ids[r.key] = rid
        for repo_id in r.trained_for:
            models.set_trained_for(store, repo_id, rid, actor="gate demo")
    # Publication needs evidence from a source the operator trusts, and a store has no hub API
    # to ask: the operator records it (a card's `license:` alone is only the uploader's claim).
    models.classify(
        store,
        "open-lab/open-tiny",
        actor="gate demo",
        reason="released to the public under apache-2.0, ungated",
        published=True,
        publication_evidence="https://huggingface.co/open-lab/open-tiny (the demo's release page)",
    )
    seed_screening(
        store,
        world.workdir,
        world.recipient_ids,
        threshold=world.settings.screening_threshold,
        today=date.today(),
    )
