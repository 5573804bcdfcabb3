"""An offline web in one object: a site served on 127.0.0.1, its search index, and the tools."""

from __future__ import annotations

import os
from typing import Any

from langchain_core.tools import BaseTool

from tfgrpo_agents.tools.browse import Browser
from tfgrpo_agents.tools.fetch import PageFetcher
from tfgrpo_agents.tools.search import LocalBackend
from tfgrpo_agents.tools.search_index import LocalSearchIndex
from tfgrpo_agents.tools.site_files import SiteFiles
from tfgrpo_agents.tools.site_server import LocalSiteServer
from tfgrpo_agents.tools.toolkit import web_browse_tool, web_search_tool
from tfgrpo_agents.tools.url_policy import UrlPolicy


class LocalWeb:
    """Serve a site folder or tarball and give an agent ``web_search`` + ``web_browse`` over it.

    ``public_url`` is the address the site has on the real web (e.g. ``https://docs.python.org/3.11/``);
    URLs a model writes with it are mapped onto the local copy::

        with LocalWeb("python-3.11-docs.tar.gz", public_url="https://docs.python.org/3.11/") as web:
            agent = build_react_agent(model, web.tools(), ...)
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        public_url: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        fetch_timeout: float = 15.0,
        text_budget: int = 900,
        max_links: int = 25,
        max_results: int = 5,
        search: bool = True,
    ) -> None:
        self.search = search  # off: browse only, from the root (WebWalkerQA's own setting); no index is built
        self.files = SiteFiles(source)
        self.server = LocalSiteServer(self.files)
        self.public_url = public_url
        self.cache_dir = cache_dir
        self.fetch_timeout = fetch_timeout
        self.text_budget = text_budget
        self.max_links = max_links
        self.max_results = max_results
        self.index: LocalSearchIndex | None = None
        self.browser: Browser | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> LocalWeb:
        self.server.start()
        if self.search:
            self.index = LocalSearchIndex.for_site(self.files, base_url=self.server.url, cache_dir=self.cache_dir)
        rewrites = {self.public_url: self.server.url} if self.public_url else {}
        fetcher = PageFetcher(policy=UrlPolicy().allowing(self.server.url), timeout=self.fetch_timeout)
        self.browser = Browser(fetcher, text_budget=self.text_budget, max_links=self.max_links, url_rewrites=rewrites)
        return self

    def tools(self) -> list[BaseTool]:
        """``web_search`` and ``web_browse`` over the site; only ``web_browse`` when ``search`` is off."""
        if self.browser is None or (self.search and self.index is None):
            raise RuntimeError("start the LocalWeb (or use it as a context manager) before asking for its tools")
        browse = web_browse_tool(self.browser)
        if not self.search:
            return [browse]
        return [web_search_tool(LocalBackend(self.index), max_results=self.max_results), browse]

    def stop(self) -> None:
        if self.browser is not None:
            self.browser.fetcher.close()
        if self.index is not None:
            self.index.close()
        self.server.stop()

    def __enter__(self) -> LocalWeb:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
