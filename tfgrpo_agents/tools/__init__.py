"""The agent's hands: web search, web browsing, sandboxed Python, and a local website server.

Nothing here depends on the rest of the package.
"""

from tfgrpo_agents.tools.browse import Browser, render_page
from tfgrpo_agents.tools.fetch import FetchError, PageFetcher
from tfgrpo_agents.tools.local_web import LocalWeb
from tfgrpo_agents.tools.page import Link, Page, parse_html
from tfgrpo_agents.tools.python_exec import CodeExecutor, ExecResult, SubprocessExecutor
from tfgrpo_agents.tools.sandbox import (
    Isolation,
    SandboxPlan,
    SandboxUnavailable,
    detect_sandbox,
)
from tfgrpo_agents.tools.search import (
    DDGSBackend,
    LocalBackend,
    SearchBackend,
    format_hits,
)
from tfgrpo_agents.tools.search_index import LocalSearchIndex, SearchHit, fts_query
from tfgrpo_agents.tools.site_files import SiteFiles
from tfgrpo_agents.tools.site_server import LocalSiteServer
from tfgrpo_agents.tools.toolkit import (
    python_exec_tool,
    web_browse_tool,
    web_search_tool,
)
from tfgrpo_agents.tools.url_policy import UrlPolicy

__all__ = [
    "Browser",
    "CodeExecutor",
    "DDGSBackend",
    "ExecResult",
    "FetchError",
    "Isolation",
    "Link",
    "LocalBackend",
    "LocalSearchIndex",
    "LocalSiteServer",
    "LocalWeb",
    "Page",
    "PageFetcher",
    "SandboxPlan",
    "SandboxUnavailable",
    "SearchBackend",
    "SearchHit",
    "SiteFiles",
    "SubprocessExecutor",
    "UrlPolicy",
    "detect_sandbox",
    "format_hits",
    "fts_query",
    "parse_html",
    "python_exec_tool",
    "render_page",
    "web_browse_tool",
    "web_search_tool",
]
