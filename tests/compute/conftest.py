from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


@pytest.fixture
def declarer_key(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, Path, Path]:
    """A fresh P-256 key: (private key, private PEM path, public PEM path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "declarer.key.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = tmp_path / "declarer.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, private, public
