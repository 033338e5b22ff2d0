"""One `store` fixture over both databases (`database_url`, from tests/conftest.py)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from gate.store.db import CheckpointPolicy, Store, open_store


class P256Signer:
    """A real ECDSA P-256 signer, as gate.crypto.keys provides it."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = "test-" + secrets.token_hex(4)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    @property
    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        return {self.key_id: self.private_key.public_key()}


@pytest.fixture
def signer() -> P256Signer:
    return P256Signer()


@pytest.fixture
def make_store(database_url: str) -> Iterator[Callable[..., Store]]:
    opened: list[Store] = []

    def make(**kwargs: object) -> Store:
        store = open_store(database_url, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., Store], signer: P256Signer) -> Store:
    return make_store(signer=signer, checkpoints=CheckpointPolicy(every=5, minutes=60))
