"""Fixed keys for the crypto tests: golden vectors need a key that never changes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

# A fixed private scalar, so the key id and public key in the golden vectors never change.
GOLDEN_SCALAR = 0x1F2E3D4C5B6A79880123456789ABCDEF0FEDCBA9876543210123456789ABCDEF
GOLDEN_KEY_ID = "a9210a34f8925252a1a5d3881facc4ed447ccc4573f2293298d54bfde5dfcc75"


@pytest.fixture
def golden_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(GOLDEN_SCALAR, ec.SECP256R1())


@pytest.fixture
def other_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(0x42424242, ec.SECP256R1())
