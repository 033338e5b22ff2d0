"""The plugin's errors: a weight file it will not let into (or out of) the cache, or bad settings.

`GateVerificationError` derives from `Exception` only: it is deliberately NOT an `httpx2`,
`OSError`, `ConnectionError` or `requests` error. The Hugging Face client retries and resumes on
network errors and falls back to a cached copy on HTTP and connection errors of the metadata call;
an error of a type it does not know goes straight to the caller, so a refused file is neither
retried nor replaced by something from the cache.
"""

from __future__ import annotations


class GateVerificationError(Exception):
    """A parameter file whose receipt or bytes do not verify; the message says which and why."""


class GateSettingsError(GateVerificationError):
    """The plugin's settings are missing or wrong; the message names the setting to fix.

    Raised by `install`/`activate`, and, after a failed autoload, by every request the
    `huggingface_hub` client makes, so no download runs unchecked until the setting is fixed.
    """


class NotInCacheError(GateVerificationError):
    """`verify_cache` was asked about a repository or revision the local cache does not hold."""
