"""Which repository a records command means: its records key and the configured source's name.

Every records match is by one key (`gate.store.repos.repo_key`: the hub matches names
case-insensitively). Before a command writes about a repository it asks the configured model
source (`GATE_STORE` folder or `GATE_UPSTREAM` hub) whether it has it: a name the source does not
have is refused unless `--force` (a typo would otherwise designate nothing). With no source
configured the name is accepted and the command says it could not be checked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import typer

from gate.errors import InputError, NotFoundError, UpstreamError
from gate.store.repos import repo_key

FORCE_OPTION = typer.Option(
    False, "--force", help="Record it even if the configured model source does not have it."
)


@dataclass(frozen=True, slots=True)
class RepoMatch:
    typed: str
    key: str
    found_as: str | None  # the source's own spelling; None when not checked or not found
    note: str  # one line for the user

    def __str__(self) -> str:
        return self.note


def _source_check(repo: str) -> tuple[str | None, str | None]:
    """(source name, canonical spelling or None when the source lacks it); (None, None) when
    no source is configured."""
    from gate.hub.local import LocalStore
    from gate.hub.source import RepoNotFound, RevisionNotFound
    from gate.hub.upstream import UpstreamSource
    from gate.settings import ServeSettings

    settings = ServeSettings()
    if settings.store is None and settings.upstream is None:
        return None, None
    if settings.store is not None:
        source: LocalStore | UpstreamSource = LocalStore(settings.store)
    else:
        assert settings.upstream is not None
        token = settings.upstream_token.get_secret_value() if settings.upstream_token else None
        source = UpstreamSource(settings.upstream, token)

    async def ask() -> str | None:
        try:
            return (await source.resolve(repo, "main")).repo_id
        except RevisionNotFound:
            return repo  # the repository exists, it has no `main`
        except RepoNotFound:
            return None
        finally:
            await source.aclose()

    try:
        return source.name, asyncio.run(ask())
    except UpstreamError as exc:
        raise InputError("repo", f"cannot check {repo!r} with {source.name}: {exc}") from None


def match_repo(repo: str, *, force: bool) -> RepoMatch:
    """The records key for `repo`, checked against the configured source (see module doc)."""
    key = repo_key(repo)
    source, found = _source_check(repo.strip())
    if source is None:
        note = (
            f"{repo}: recorded as repository {key} (no model source configured with GATE_STORE "
            "or GATE_UPSTREAM, so its existence was not checked)"
        )
        return RepoMatch(repo, key, None, note)
    if found is None:
        if not force:
            raise NotFoundError(
                f"{source} has no repository {repo!r}; check the name, or use --force to "
                "record it anyway"
            )
        note = f"{repo}: not in {source}; recorded as repository {key} (--force)"
        return RepoMatch(repo, key, None, note)
    return RepoMatch(repo, key, found, f"{repo}: matched {found} in {source} (records key {key})")
