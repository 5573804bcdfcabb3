"""Web search behind one protocol: the live web through ``ddgs``, or a local index."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from tfgrpo_agents.tools.search_index import LocalSearchIndex, SearchHit

logger = logging.getLogger(__name__)


@runtime_checkable
class SearchBackend(Protocol):
    def search(self, query: str, max_results: int = 5) -> list[SearchHit]: ...


class DDGSBackend:
    """Live web search through ``ddgs`` (the successor of duckduckgo-search).

    ``backend`` picks engines (``"auto"``, ``"duckduckgo"``, ``"bing,brave"``…); rate limits and
    timeouts are retried with exponential back-off before the error reaches the tool.
    """

    def __init__(
        self,
        *,
        backend: str = "auto",
        region: str = "us-en",
        safesearch: str = "moderate",
        timeout: int = 10,
        retries: int = 3,
        proxy: str | None = None,
    ) -> None:
        self.backend = backend
        self.region = region
        self.safesearch = safesearch
        self.timeout = timeout
        self.retries = retries
        self.proxy = proxy

    def search(self, query: str, max_results: int = 5) -> list[SearchHit]:
        try:
            from ddgs import DDGS
            from ddgs.exceptions import RatelimitException, TimeoutException
        except ImportError as error:
            from tfgrpo_agents._extras import missing_extra

            raise missing_extra("web", error) from error

        @retry(
            retry=retry_if_exception_type((RatelimitException, TimeoutException)),
            stop=stop_after_attempt(self.retries),
            wait=wait_exponential(multiplier=1, max=8),
            reraise=True,
        )
        def run() -> list[dict]:
            return DDGS(proxy=self.proxy, timeout=self.timeout).text(
                query, region=self.region, safesearch=self.safesearch,
                max_results=max_results, backend=self.backend,
            )

        return [
            SearchHit(title=r.get("title", ""), url=r.get("href", ""), snippet=r.get("body", ""))
            for r in run()
        ][:max_results]


class LocalBackend:
    """Search a local index (see :class:`LocalSearchIndex`)."""

    def __init__(self, index: LocalSearchIndex) -> None:
        self.index = index

    def search(self, query: str, max_results: int = 5) -> list[SearchHit]:
        return self.index.search(query, max_results)


def format_hits(query: str, hits: list[SearchHit]) -> str:
    """Search results as text a small model reads well: numbered, title, URL, snippet."""
    if not hits:
        return f"No results for {query!r}. Try fewer or different words, or open a page you already know."
    lines = [f"Results for {query!r}:"]
    for number, hit in enumerate(hits, start=1):
        lines.append(f"{number}. {hit.title}\n   URL: {hit.url}\n   {hit.snippet}")
    return "\n".join(lines)
