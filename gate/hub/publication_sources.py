"""Publication sources: hubs the operator trusts to say whether a repository is public.

`GATE_PUBLICATION_SOURCES` lists hub URLs (for example the upstream, `https://huggingface.co`).
For a repository at a commit, each is asked `/api/models/{repo}/revision/{commit}` and its
`/tree/{commit}`; what it says (private, gated, licenses, the files' digests, for this commit) is
an observation with the time it was made
(`gate.compute.publication.HubPublication`), which `publication_status` weighs. Observations are
remembered per (repo, commit) and asked again once older than `GATE_PUBLICATION_MAX_AGE_HOURS`,
since a repository can turn private or gated after release. A source that cannot be reached or
answers with an error gives no evidence (publication stays unknown, so the decision holds), and
that answer is not remembered.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from gate.compute.publication import HubPublication, hub_observation, is_stale, tree_digests

_MAX_REMEMBERED = 4096
_MAX_TREE_PAGES = 100


def _now() -> datetime:
    return datetime.now(UTC)


class PublicationSources:
    """Asks each configured hub about a repository at a commit; remembers fresh answers."""

    def __init__(
        self,
        sources: Sequence[str],
        *,
        max_age: timedelta = timedelta(hours=24),
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.sources = tuple(s.rstrip("/") for s in sources)
        self.max_age = max_age
        self.clock = clock
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False
        )
        self._seen: OrderedDict[tuple[str, str, str], HubPublication] = OrderedDict()

    async def observe(self, repo_id: str, commit: str) -> list[HubPublication]:
        """One observation per source that answered (found or not); fresh or remembered."""
        if not self.sources:
            return []
        answers = await asyncio.gather(*(self._one(s, repo_id, commit) for s in self.sources))
        return [a for a in answers if a is not None]

    async def _one(self, source: str, repo_id: str, commit: str) -> HubPublication | None:
        key = (source, repo_id.casefold(), commit)
        known = self._seen.get(key)
        now = self.clock()
        if known is not None and not is_stale(known, now, self.max_age):
            return known
        answered, info = await self._ask(source, repo_id, commit)
        if not answered:
            return None  # no answer: no evidence, and nothing remembered
        files = await self._files(source, repo_id, commit) if info is not None else None
        seen = hub_observation(
            info, source=source, repo_id=repo_id, commit=commit, checked_at=now, files=files
        )
        self._seen[key] = seen
        if len(self._seen) > _MAX_REMEMBERED:
            self._seen.popitem(last=False)
        return seen

    async def _ask(
        self, source: str, repo_id: str, commit: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """(answered, the model info or None when the source does not show it)."""
        url = f"{source}/api/models/{repo_id}/revision/{quote(commit, safe='')}"
        try:
            response = await self._client.get(url)
        except httpx.HTTPError:
            return False, None
        if response.status_code in (401, 403, 404):
            return True, None  # not public there (hubs answer private repositories 401/404)
        if response.status_code != 200:
            return False, None
        try:
            data = response.json()
        except ValueError:
            return False, None
        return (True, data) if isinstance(data, dict) else (False, None)

    async def _files(self, source: str, repo_id: str, commit: str) -> dict[str, str] | None:
        """The source's files at the commit (path -> digest), None when it cannot list them."""
        url: str | None = f"{source}/api/models/{repo_id}/tree/{quote(commit, safe='')}"
        params: dict[str, str] | None = {"recursive": "true"}
        found: dict[str, str] = {}
        pages = 0
        while url is not None and pages < _MAX_TREE_PAGES:
            try:
                response = await self._client.get(url, params=params)
                entries = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                return None
            if not isinstance(entries, list):
                return None
            found.update(tree_digests(entries))
            url, params, pages = response.links.get("next", {}).get("url"), None, pages + 1
        return None if url is not None else found

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()
