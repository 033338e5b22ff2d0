"""The plugin's one error: a weight file the plugin will not let into (or out of) the cache.

`GateVerificationError` derives from `gate.errors.SignatureError`, hence from `Exception` only:
it is deliberately NOT an `httpx2`/`OSError`/`ConnectionError`/`requests` error. The Hugging Face
client retries and resumes on network errors and falls back to a cached copy on HTTP and
connection errors of the metadata call; an error of a type it does not know goes straight to the
caller, so a refused file is neither retried nor replaced by something from the cache.
"""

from __future__ import annotations

from gate.errors import SignatureError


class GateVerificationError(SignatureError):
    """A parameter file whose receipt or bytes do not verify; the message says which and why."""
