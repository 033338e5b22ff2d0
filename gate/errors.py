"""The one hierarchy of errors the gate raises.

A decision is a value, never an exception: these are for things that went wrong (bad input, a
broken ruleset, an unreachable database). The CLI maps them to messages and exit codes in one
place (`gate.cli.main`), the server to HTTP responses in one place (`gate.server.errors`).
"""

from __future__ import annotations

ECHO_LIMIT = 64
"""Characters of a user's input an error message may quote: a 10 MiB header echoed back in
`X-Error-Message` breaks the client, and a long echo helps nobody."""


def excerpt(text: object, limit: int = ECHO_LIMIT) -> str:
    """`repr` of at most the first `limit` characters of `text`, marked when cut."""
    value = text if isinstance(text, str) else repr(text)
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


class GateError(Exception):
    """Base of every error the gate raises on purpose. `str(err)` is the message a user sees."""

    exit_code = 2
    http_status = 500


class InputError(GateError):
    """Input that cannot be used as given: names the field (dotted path) and the problem."""

    http_status = 422

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class CountryError(InputError):
    """A country that does not resolve to exactly one ISO 3166-1 country."""

    def __init__(self, field: str, given: str, suggestions: tuple[str, ...] = ()) -> None:
        self.given = given
        self.suggestions = suggestions
        hint = f" (did you mean: {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(field, f"unknown or ambiguous country {excerpt(given)}{hint}")


class RulesetError(GateError):
    """A ruleset file that is unreadable or invalid: names the file, the key and the problem."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {problem}")


class MetadataError(GateError):
    """Model metadata (a safetensors header, config, model card) that is missing or malformed."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class SignatureError(GateError):
    """A signature, envelope, key or receipt that does not verify."""

    http_status = 400


class NotFoundError(GateError):
    """A record (recipient, license, inquiry, audit entry, repository, file) that does not exist."""

    exit_code = 3
    http_status = 404


class AuthError(GateError):
    """A missing, unknown, expired or revoked credential."""

    exit_code = 4
    http_status = 401


class StoreError(GateError):
    """The records store failed (unreachable, read-only, full). The gate fails closed on it."""

    exit_code = 5
    http_status = 503


class UpstreamError(GateError):
    """A model source (local store or upstream hub) failed or returned something unusable."""

    exit_code = 6
    http_status = 502


class UpstreamBusy(UpstreamError):
    """Too many calls to one upstream repository are in flight: retry later (503)."""

    http_status = 503

    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamAuthError(UpstreamError):
    """A hub refused the credential sent to it (HTTP 401/403): the CLI's `--token`, or the
    gate's own upstream token (then the recipient sees an upstream failure, not a 401)."""

    exit_code = 4


class RateLimited(GateError):
    """A caller asked too often (re-answering an inquiry); `retry_after` is in seconds."""

    http_status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
